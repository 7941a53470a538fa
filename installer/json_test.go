package installer

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/installer/state"
	"ferry/license"
	"ferry/verify"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the --json outputs in testdata")

// checkJSONGolden encodes v as cmd/ferry's --json does and compares it
// with testdata/NAME.golden (rewritten under -update). Every key must be
// camelCase, the one key style of ferry's --json output.
func checkJSONGolden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	var decoded any
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	checkCamelCase(t, name, decoded)
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s: the JSON encoding changed (a format change: go test -update rewrites the file)\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
}

// checkCamelCase fails on any object key that does not start with a
// lower-case letter or has a character other than letters and digits.
func checkCamelCase(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "" || k[0] < 'a' || k[0] > 'z' || strings.IndexFunc(k, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			}) >= 0 {
				t.Errorf("%s.%s: key is not camelCase", at, k)
			}
			checkCamelCase(t, at+"."+k, e)
		}
	case []any:
		for _, e := range v {
			checkCamelCase(t, at+"[]", e)
		}
	}
}

var goldenTime = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

func goldenLicenseInfo() *LicenseInfo {
	return &LicenseInfo{
		Required: true, Policy: true,
		License: &license.License{
			ID: "0123456789abcdef", Product: "demo-app", Customer: "ACME", Issued: goldenTime.AddDate(0, -1, 0),
			NotBefore: goldenTime.AddDate(0, -1, 0), Expires: goldenTime.AddDate(1, 0, 0), Grace: 720 * time.Hour,
			Components: []string{"api"}, Features: []string{"reports"}, Versions: ">=1.0.0 <3.0.0", Nodes: 3, Bind: "fp1:abc",
		},
		State: license.StateValid, UpdatesAllowed: true, ExpiresIn: 8760 * time.Hour,
		Clock: Clock{Now: goldenTime, System: goldenTime, HighWater: goldenTime.Add(-time.Hour), Mark: goldenTime.Add(-time.Hour)},
		History: []LicenseRecord{{ID: "0123456789abcdef", Customer: "ACME", Issued: goldenTime.AddDate(0, -1, 0),
			Expires: goldenTime.AddDate(1, 0, 0), Installed: goldenTime.Add(-time.Hour), SHA256: "ab12"}},
	}
}

func TestStatusJSON(t *testing.T) {
	checkJSONGolden(t, "status", &Status{
		Current: "1.1.0",
		Releases: []ReleaseStatus{
			{Version: "1.0.0", Status: "kept", Digest: "sha256:aa", Installed: goldenTime.Add(-2 * time.Hour), Components: []string{"api", "web"}},
			{Version: "1.1.0", Status: "current", Digest: "sha256:bb", Installed: goldenTime.Add(-time.Hour), Components: []string{"api"},
				Checks: []state.CheckResult{{Name: "http", OK: true, At: goldenTime.Add(-time.Hour)}, {Name: "db", Detail: "refused", At: goldenTime.Add(-time.Hour)}}},
		},
		Last:    &state.Txn{ID: 2, Kind: "update", Version: "1.1.0", BundleDigest: "sha256:bb", Started: goldenTime.Add(-time.Hour), Finished: goldenTime.Add(-time.Hour + time.Minute), State: "committed"},
		License: goldenLicenseInfo(),
	})
	checkJSONGolden(t, "status_empty", &Status{License: &LicenseInfo{UpdatesAllowed: true, Clock: Clock{Now: goldenTime, System: goldenTime}}})
}

func TestLicenseInfoJSON(t *testing.T) {
	checkJSONGolden(t, "license_show", goldenLicenseInfo())
}

func TestHistoryJSON(t *testing.T) {
	checkJSONGolden(t, "history", []HistoryEntry{{
		Txn: state.Txn{ID: 1, Kind: "install", Version: "1.0.0", BundleDigest: "sha256:aa", Started: goldenTime, State: "aborted", Reason: "check http failed"},
		Steps: []state.Step{
			{Txn: 1, Seq: 1, Name: "unpack", Phase: "done", At: goldenTime},
			{Txn: 1, Seq: 2, Name: "check", Phase: "failed", Detail: "http", At: goldenTime.Add(time.Second)},
		},
	}})
}

func TestTrustListJSON(t *testing.T) {
	checkJSONGolden(t, "trust_list", &TrustList{
		Keys:      []TrustedKey{{ID: "0a1b", Type: verify.KeyEd25519}, {ID: "ffee"}},
		Sequence:  1,
		Threshold: 1,
		Retired:   []RetiredKey{{Material: "ed25519:0c0d", RetiredKey: state.RetiredKey{ID: "0c0d", Sequence: 1}}},
	})
}

func TestClockReportJSON(t *testing.T) {
	c := Clock{Now: goldenTime, System: goldenTime.Add(-48 * time.Hour), HighWater: goldenTime.Add(500 * time.Millisecond), Behind: true}
	checkJSONGolden(t, "clock_show", NewClockReport(c, []string{"fp1:abc", "fp1:def"}))
}
