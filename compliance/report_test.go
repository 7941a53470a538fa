package compliance

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"ferry/installer"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenEvidence is a fixed appliance: two releases (one rolled back to),
// a refused bundle, an OpenPGP key beside an ECDSA one, a valid licence
// that ferry checked, and an audit log that verifies. It exercises every part of every report without the
// times and random keys of a real install.
func goldenEvidence() *Evidence {
	at := func(min int) time.Time { return time.Date(2026, 2, 1, 9, min, 0, 0, time.UTC) }
	d1 := "sha256:" + strings.Repeat("1", 64)
	d2 := "sha256:" + strings.Repeat("2", 64)
	t1 := Txn{ID: 1, Kind: "install", Version: "1.0.0", BundleDigest: d1, Started: at(1), Finished: at(2), State: "committed", Steps: 9}
	t2 := Txn{ID: 2, Kind: "install", Version: "1.1.0", BundleDigest: d2, Started: at(10), Finished: at(11), State: "committed", Steps: 9}
	t3 := Txn{ID: 3, Kind: "rollback", Version: "1.0.0", BundleDigest: d1, Started: at(20), Finished: at(20), State: "committed", Reason: "rollback from 1.1.0", Steps: 1}
	collected := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	issued := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	expires := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	licSHA := "sha256:" + strings.Repeat("4", 64)
	return &Evidence{
		Collected: collected,
		Root:      "/var/lib/ferry",
		Host:      "appliance-01",
		Tool:      Tool{Name: "ferry", Version: "v1.0.0", GoVersion: "go1.26.0"},
		Files: []FileInfo{
			{Path: ".", Exists: true, Mode: os.ModeDir | 0o700},
			{Path: "state.db", Exists: true, Mode: 0o600},
			{Path: "ferry.lock", Exists: true, Mode: 0o600},
			{Path: "store", Exists: true, Mode: os.ModeDir | 0o755},
			{Path: "releases", Exists: true, Mode: os.ModeDir | 0o755},
			{Path: "current", Exists: true, Mode: os.ModeSymlink | 0o777, Target: "releases/1.0.0"},
			{Path: "data"},
			{Path: "logs"},
		},
		Trust: []TrustKey{
			{ID: strings.Repeat("a", 64), Type: "ecdsa-p256", SHA256: strings.Repeat("b", 64), Added: at(2)},
			{ID: strings.Repeat("c", 40), Type: "openpgp", SHA256: strings.Repeat("d", 64), Added: at(0)},
		},
		Current: "1.0.0",
		Releases: []Release{
			{Version: "1.0.0", Name: "demo-app", Vendor: "Example Corp", ManifestDigest: d1, Status: "active", Current: true,
				Created: at(0), Installed: at(1), Components: []string{"database", "api"}, Entries: 12, Files: 2,
				Images:        []string{"wf/worker:1.0.0@sha256:" + strings.Repeat("3", 64)},
				Checks:        []Check{{Name: "api/1:bin/api --self-check", OK: true, At: at(2)}},
				DigestMatches: true, VerifiedBy: &t1},
			{Version: "1.1.0", Name: "demo-app", Vendor: "Example Corp", ManifestDigest: d2, Status: "inactive",
				Created: at(9), Installed: at(10), Components: []string{"database", "api"}, Entries: 12, Files: 2,
				DigestMatches: true, VerifiedBy: &t2},
		},
		Txns: []Txn{t1, t2, t3},
		Bundles: []BundleEvent{
			{Seq: 8, Time: at(2), Event: "install.committed", Version: "1.0.0", Bundle: d1},
			{Seq: 9, Time: at(5), Event: "install.refused", Bundle: "app-1.1.0.ferry", Detail: "manifest.json: signature does not verify"},
			{Seq: 14, Time: at(11), Event: "install.committed", Version: "1.1.0", Bundle: d2},
		},
		Rollbacks:  []Rollback{{Time: at(20), Kind: "rollback", From: "1.1.0", To: "1.0.0"}},
		Migrations: []Migration{{Release: "1.0.0", Database: "app", Version: 1, Name: "create_users", Applied: at(1)}},
		Audit: Audit{Entries: 19, HeadSeq: 19, Head: strings.Repeat("e", 64), First: at(0), Last: at(20), Verified: true,
			Events: []EventCount{{Event: "install.committed", Count: 2, Last: at(11)}, {Event: "install.refused", Count: 1, Last: at(5)},
				{Event: "license.checked", Count: 1, Last: at(15)}, {Event: "license.installed", Count: 1, Last: at(15)}, {Event: "state.create", Count: 1, Last: at(0)}}},
		Integrity:  Integrity{Checked: true, Releases: 2},
		Algorithms: algorithms([]TrustKey{{Type: "ecdsa-p256"}, {Type: "openpgp"}}),
		Marks:      []Mark{{Name: highestMark, Value: "1.1.0"}, {Name: clockMark, Value: stamp(at(20))}},
		Licence: Licence{
			Release: "1.0.0", Product: "demo-app", Policy: true, Keys: 1, Required: true,
			Installed: &InstalledLicence{
				SHA256: licSHA, Verified: true, Recorded: true, ID: "lic-0001", Customer: "Example Customer", Product: "demo-app",
				Issued: issued, NotBefore: issued, Expires: expires, Grace: "720h0m0s", Versions: ">=1.0.0 <2.0.0", Nodes: 3, Installed: at(15),
			},
			State: "valid", UpdatesAllowed: true,
			History: []LicenceRecord{{ID: "lic-0001", Customer: "Example Customer", Issued: issued, Expires: expires, Installed: at(15), SHA256: licSHA}},
			Events: []LicenceEvent{
				{Seq: 15, Time: at(15), Event: "license.checked", Licence: "lic-0001", Customer: "Example Customer", Version: "1.1.0", State: "valid"},
				{Seq: 16, Time: at(15), Event: "license.installed", Licence: "lic-0001", Customer: "Example Customer",
					Detail: "issued 2026-01-15T00:00:00Z, expires 2027-01-15T00:00:00Z, file SHA-256 " + licSHA},
			},
		},
		Clock:    Clock{System: collected, HighWater: at(20), Now: collected, Tolerance: installer.ClockTolerance},
		Rollouts: Feature{Status: "this ferry has no rollouts"},
	}
}

func TestGolden(t *testing.T) {
	ev := goldenEvidence()
	fs := Assess(ev)
	for _, c := range []struct {
		format Format
		file   string
	}{{CKLB, "report.cklb"}, {Markdown, "report.md"}, {CKL, "report.ckl"}} {
		var buf bytes.Buffer
		if err := Write(&buf, c.format, ev, fs); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "golden", c.file)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s differs from %s; run with -update if the change is intended\n%s", c.format, path, firstDiff(buf.String(), string(want)))
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, a, b)
		}
	}
	return ""
}

// reports returns the evidence of the appliances the schema tests check:
// the fixed one, a healthy installed root and one with a refused bundle.
func reports(t *testing.T) map[string]*Evidence {
	t.Helper()
	root, b, key := installedRoot(t)
	healthy, _ := collect(t, root)
	b2 := buildBundle(t, filepath.Dir(b.path), "1.1.0", key)
	if _, err := installer.Install(context.Background(), tamper(t, b2), installer.Options{Root: root}); err == nil {
		t.Fatal("a tampered bundle was installed")
	}
	refused, _ := collect(t, root)
	at := func(min int) time.Time { return time.Date(2026, 2, 1, 9, min, 0, 0, time.UTC) }
	empty := goldenEvidence()
	empty.Releases, empty.Trust, empty.Txns, empty.Bundles, empty.Integrity = nil, nil, nil, nil, Integrity{Problem: "no release is installed"}
	empty.Current, empty.Licence = "", Licence{UpdatesAllowed: true}
	expired := goldenEvidence()
	expired.Licence.State, expired.Licence.UpdatesAllowed = "expired", false
	expired.Licence.Problem = `licence lic-0001 for "Example Customer" expired at 2027-01-15T00:00:00Z and its grace of 720h0m0s ended at 2027-02-14T00:00:00Z (now 2027-03-01T12:00:00Z); install a renewed licence: licence expired`
	expired.Clock.Events = []ClockEvent{{Seq: 17, Time: at(16), System: "2026-02-01T08:00:00Z", HighWater: "2026-02-01T09:15:00Z"}}
	return map[string]*Evidence{"golden": goldenEvidence(), "healthy": healthy, "refused": refused, "empty": empty, "expired": expired}
}

// TestReportsValidate checks the OSCAL output against the OSCAL 1.2.1
// assessment-results schema (compiled once) and the CKL output against
// DISA's checklist schema, for several appliances.
func TestReportsValidate(t *testing.T) {
	schema := compileOSCAL(t)
	xmllint, lintErr := exec.LookPath("xmllint")
	for name, ev := range reports(t) {
		fs := Assess(ev)
		t.Run(name+"/oscal", func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, OSCAL, ev, fs); err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Fatalf("OSCAL output does not validate: %v", err)
			}
			// The schema does reject what is wrong: a uuid that is not
			// version 4 or 5.
			bad := bytes.Replace(buf.Bytes(), []byte(`"uuid": "`), []byte(`"uuid": "x`), 1)
			if doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(bad)); err != nil || schema.Validate(doc) == nil {
				t.Fatalf("a broken uuid validates (%v)", err)
			}
			var parsed struct {
				AR struct {
					Results []struct {
						Findings []json.RawMessage `json:"findings"`
					} `json:"results"`
				} `json:"assessment-results"`
			}
			if err := json.Unmarshal(buf.Bytes(), &parsed); err != nil || len(parsed.AR.Results[0].Findings) != len(fs) {
				t.Fatalf("findings: %v, %d", err, len(parsed.AR.Results[0].Findings))
			}
		})
		t.Run(name+"/ckl", func(t *testing.T) {
			if lintErr != nil {
				t.Skip("xmllint is not installed (Debian package libxml2-utils); the CKL schema is not checked")
			}
			out := filepath.Join(t.TempDir(), "report.ckl")
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := Write(f, CKL, ev, fs); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "U_Checklist_Schema_V2.xsd"), out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("CKL output does not validate: %v\n%s", err, msg)
			}
			// And rejects a status the schema does not know.
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, bytes.Replace(data, []byte("<STATUS>"), []byte("<STATUS>Bad"), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			if exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "U_Checklist_Schema_V2.xsd"), out).Run() == nil {
				t.Fatal("xmllint accepts an unknown status")
			}
		})
		t.Run(name+"/cklb", func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, CKLB, ev, fs); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Version string `json:"cklb_version"`
				STIGs   []struct {
					Rules []struct {
						Status string `json:"status"`
					} `json:"rules"`
				} `json:"stigs"`
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Version != "1.0" || len(doc.STIGs) != 1 || len(doc.STIGs[0].Rules) != len(rules()) {
				t.Fatalf("CKLB: %+v", doc)
			}
			for _, r := range doc.STIGs[0].Rules {
				switch r.Status {
				case "not_a_finding", "open", "not_applicable", "not_reviewed":
				default:
					t.Errorf("status %q", r.Status)
				}
			}
		})
	}
}

func compileOSCAL(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "oscal_assessment-results_schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	const url = "http://csrc.nist.gov/ns/oscal/1.2.1/oscal-assessment-results-schema.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWriteUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, "pdf", goldenEvidence(), nil); err == nil {
		t.Fatal("an unknown format was accepted")
	}
}
