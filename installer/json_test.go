package installer

import (
	"flag"
	"path/filepath"
	"testing"
	"time"

	"ferry/installer/state"
	"ferry/internal/testenv"
	"ferry/license"
	"ferry/verify"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the --json outputs in testdata")

// checkJSONGolden compares v's --json encoding with testdata/NAME.golden
// (rewritten under -update).
func checkJSONGolden(t *testing.T, name string, v any) {
	t.Helper()
	testenv.JSONGolden(t, filepath.Join("testdata", name+".golden"), v, *updateGolden)
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

func goldenPlan() *Plan {
	return &Plan{
		Name: "demo-app", Version: "1.1.0", Digest: "sha256:bb",
		Components: []string{"api", "web"}, Skipped: []string{"reports"},
		Levels: [][]string{{"api"}, {"web"}},
		Steps: []Step{
			{Component: "api", Kind: "files", Name: "unpack", Digests: []string{"sha256:cc"}},
			{Component: "web", Kind: "check", Name: "http"},
		},
		Reversible: true,
		Services:   []RunAs{{Component: "api", Service: "api", User: "ferry-api"}},
	}
}

func TestInstallReportJSON(t *testing.T) {
	d := goldenLicenseInfo()
	res := &Result{
		Plan: goldenPlan(), Stored: 3, Reused: 1, ReleaseAt: "releases/1.1.0",
		Checks: []state.CheckResult{{Name: "http", OK: true, At: goldenTime}},
		License: &LicenseDecision{License: d.License, Status: d.License.StatusAt(goldenTime),
			Skipped: []string{"reports"}, Given: true},
		Images: []string{"demo/api:1.1.0"},
	}
	checkJSONGolden(t, "install", NewInstallReport(res, []PushedImage{
		{Image: "demo/api:1.1.0", Target: "registry.local:5000/demo/api:1.1.0", Digest: "sha256:dd", Pushed: true},
	}))
	checkJSONGolden(t, "install_noop", NewInstallReport(&Result{Plan: goldenPlan(), NoOp: true, ReleaseAt: "releases/1.1.0"}, nil))
}

func TestPlanReportJSON(t *testing.T) {
	checkJSONGolden(t, "plan", PlanReport{Plan: goldenPlan()})
	checkJSONGolden(t, "plan_host", PlanReport{Plan: goldenPlan(), Host: &HostView{
		Current: "1.0.0", Needed: 4, Stored: 2,
		Databases: []DatabaseView{{Name: "main", Version: 3, Target: 5, Pending: 2}},
	}})
}
