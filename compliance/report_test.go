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

	"ferry/config"
	"ferry/installer"
	"ferry/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenEvidence is a fixed appliance: two releases, a refused bundle, an
// OpenPGP key beside an ECDSA one, a valid licence that ferry checked, an
// audit log that verifies, and two services rolled out by ferry serve: the
// canary of web to 1.1.0 succeeded, the canary of api to 1.1.0 was paused,
// taken up by a restarted ferry serve, resumed and aborted by its analysis,
// which rolled the release back to 1.0.0, and web then went back to 1.0.0
// by a second canary. The decisions' texts are the rollout machine's. It
// exercises every part of every report without the times and random keys
// of a real install.
func goldenEvidence() *Evidence {
	at := func(minute int) time.Time { return time.Date(2026, 2, 1, 9, minute, 0, 0, time.UTC) }
	d1 := "sha256:" + strings.Repeat("1", 64)
	d2 := "sha256:" + strings.Repeat("2", 64)
	t1 := Txn{ID: 1, Kind: "install", Version: "1.0.0", BundleDigest: d1, Started: at(1), Finished: at(2), State: "committed", Steps: 9}
	t2 := Txn{ID: 2, Kind: "install", Version: "1.1.0", BundleDigest: d2, Started: at(10), Finished: at(11), State: "committed", Steps: 9}
	t3 := Txn{ID: 3, Kind: "rollback", Version: "1.0.0", BundleDigest: d1, Started: at(20), Finished: at(20), State: "committed", Reason: "rollback from 1.1.0", Steps: 1}
	collected := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	issued := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	expires := time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)
	licSHA := "sha256:" + strings.Repeat("4", 64)
	apiCause := "analysis failed at step 1 of 3 (10% of traffic to 1.1.0): error rate 5.2% > 1% (canary 26/500, stable 0/4480)"
	good := "requests=600 errors=0 p95=42ms cpu=2.0% memory=1.0%"
	decision := func(seq uint64, minute int, action, stable, next, phase, weight, reason string) RolloutDecision {
		return RolloutDecision{Seq: seq, Time: at(minute), Action: action, Reason: reason, Strategy: "canary", Stable: stable, New: next, Phase: phase, Weight: weight}
	}
	analysed := func(d RolloutDecision, canary, stable string) RolloutDecision {
		d.Canary, d.StableMetrics = canary, stable
		return d
	}
	apiAbort := analysed(decision(32, 19, "abort", "1.0.0", "1.1.0", "aborted", "0", apiCause+"; all traffic back on 1.0.0"),
		"requests=500 errors=26 p95=45ms cpu=1.0% memory=1.0%", "requests=4480 errors=0 p95=41ms cpu=3.0% memory=1.0%")
	webSucceed := analysed(decision(42, 25, "succeed", "1.1.0", "1.0.0", "succeeded", "100",
		"analysis passed at step 3 of 3 (100% of traffic to 1.0.0): within limits: error rate 0%, p95 42ms, cpu 2%, memory 1% (canary 0/600, stable 0/0); all traffic on 1.0.0, 1.1.0 stopped"),
		good, "requests=0 errors=0 p95=0s cpu=0.0% memory=0.0%")
	lastOf := func(d RolloutDecision) *RolloutDecision {
		return &RolloutDecision{Time: d.Time, Action: d.Action, Reason: d.Reason, Canary: d.Canary, StableMetrics: d.StableMetrics}
	}
	rollouts := Rollouts{
		Services: []ServiceRollouts{
			{
				Service: "api",
				Last: &RolloutState{Strategy: "canary", Stable: "1.0.0", New: "1.1.0", Phase: "aborted", Started: at(12),
					Step: 1, Steps: []int{10, 50, 100}, Weight: 0, LastDecision: lastOf(apiAbort), AbortCause: apiCause},
				Decisions: []RolloutDecision{
					decision(17, 12, "start", "1.0.0", "1.1.0", "starting", "0", "canary rollout from 1.0.0 to 1.1.0: starting 1.1.0, no traffic until it is healthy"),
					decision(19, 13, "advance", "1.0.0", "1.1.0", "progressing", "10", "1.1.0 is healthy; 10% of traffic to 1.1.0 (step 1 of 3), analysed at 2026-02-01T09:14:00Z"),
					analysed(decision(21, 14, "hold", "1.0.0", "1.1.0", "progressing", "10", "held at step 1 of 3 (10% of traffic to 1.1.0): inconclusive: 12 requests < minRequests 20; analysed again at 2026-02-01T09:15:00Z"),
						"requests=12 errors=0 p95=40ms cpu=0.0% memory=0.0%", good),
					decision(24, 15, "pause", "1.0.0", "1.1.0", "progressing", "10", "paused by the operator at step 1 of 3 (10% of traffic to 1.1.0)"),
					decision(31, 18, "resume", "1.0.0", "1.1.0", "progressing", "10", "resumed by the operator at step 1 of 3 (10% of traffic to 1.1.0); next analysis at 2026-02-01T09:19:00Z"),
					apiAbort,
				},
				Commands: []RolloutCommand{{Seq: 23, Time: at(15), Command: "pause", Outcome: "accepted"}, {Seq: 30, Time: at(18), Command: "resume", Outcome: "accepted"}, {Seq: 31, Time: at(18), Command: "promote", Outcome: "refused", Reason: "rollout of api is not waiting for approval"}},
				Resumed:  []RolloutResumed{{Seq: 29, Time: at(17), Stable: "1.0.0", New: "1.1.0", Phase: "progressing", Step: "1", Weight: "10"}},
			},
			{
				Service: "web",
				Last: &RolloutState{Strategy: "canary", Stable: "1.1.0", New: "1.0.0", Phase: "succeeded", Started: at(21),
					Step: 3, Steps: []int{10, 50, 100}, Weight: 100, LastDecision: lastOf(webSucceed)},
				Decisions: []RolloutDecision{
					decision(16, 12, "start", "1.0.0", "1.1.0", "starting", "0", "canary rollout from 1.0.0 to 1.1.0: starting 1.1.0, no traffic until it is healthy"),
					decision(18, 13, "advance", "1.0.0", "1.1.0", "progressing", "10", "1.1.0 is healthy; 10% of traffic to 1.1.0 (step 1 of 3), analysed at 2026-02-01T09:14:00Z"),
					analysed(decision(20, 14, "advance", "1.0.0", "1.1.0", "progressing", "50", "analysis passed at step 1 of 3 (10% of traffic to 1.1.0): within limits: error rate 0% (stable 0%), p95 40ms (stable 42ms), cpu 0%, memory 0% (canary 0/61, stable 0/600); 50% of traffic to 1.1.0 (step 2 of 3), analysed at 2026-02-01T09:15:00Z"),
						"requests=61 errors=0 p95=40ms cpu=0.0% memory=0.0%", good),
					analysed(decision(22, 15, "advance", "1.0.0", "1.1.0", "progressing", "100", "analysis passed at step 2 of 3 (50% of traffic to 1.1.0): within limits: error rate 0% (stable 0%), p95 42ms (stable 42ms), cpu 2%, memory 1% (canary 0/600, stable 0/600); 100% of traffic to 1.1.0 (step 3 of 3), analysed at 2026-02-01T09:16:00Z"),
						good, good),
					analysed(decision(27, 16, "succeed", "1.0.0", "1.1.0", "succeeded", "100", "analysis passed at step 3 of 3 (100% of traffic to 1.1.0): within limits: error rate 0%, p95 42ms, cpu 2%, memory 1% (canary 0/600, stable 0/0); all traffic on 1.1.0, 1.0.0 stopped"),
						good, "requests=0 errors=0 p95=0s cpu=0.0% memory=0.0%"),
					decision(38, 21, "start", "1.1.0", "1.0.0", "starting", "0", "canary rollout from 1.1.0 to 1.0.0: starting 1.0.0, no traffic until it is healthy"),
					decision(39, 22, "advance", "1.1.0", "1.0.0", "progressing", "10", "1.0.0 is healthy; 10% of traffic to 1.0.0 (step 1 of 3), analysed at 2026-02-01T09:23:00Z"),
					analysed(decision(40, 23, "advance", "1.1.0", "1.0.0", "progressing", "50", "analysis passed at step 1 of 3 (10% of traffic to 1.0.0): within limits: error rate 0% (stable 0%), p95 42ms (stable 42ms), cpu 2%, memory 1% (canary 0/600, stable 0/600); 50% of traffic to 1.0.0 (step 2 of 3), analysed at 2026-02-01T09:24:00Z"),
						good, good),
					analysed(decision(41, 24, "advance", "1.1.0", "1.0.0", "progressing", "100", "analysis passed at step 2 of 3 (50% of traffic to 1.0.0): within limits: error rate 0% (stable 0%), p95 42ms (stable 42ms), cpu 2%, memory 1% (canary 0/600, stable 0/600); 100% of traffic to 1.0.0 (step 3 of 3), analysed at 2026-02-01T09:25:00Z"),
						good, good),
					webSucceed,
				},
			},
		},
		ReleaseRollbacks: []ReleaseRollback{{Seq: 36, Time: at(20), From: "1.1.0", To: "1.0.0", Reason: apiCause, Services: []string{"api"}}},
	}
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
		Rollbacks:  []Rollback{{Time: at(20), Kind: rolloutRollbackKind, From: "1.1.0", To: "1.0.0", Reason: apiCause}},
		Migrations: []Migration{{Release: "1.0.0", Database: "app", Version: 1, Name: "create_users", Applied: at(1)}},
		Audit: Audit{Entries: 42, HeadSeq: 42, Head: strings.Repeat("e", 64), First: at(0), Last: at(25), Verified: true,
			Events: []EventCount{{Event: "config.applied", Count: 2, Last: at(11)}, {Event: "install.committed", Count: 2, Last: at(11)}, {Event: "install.refused", Count: 1, Last: at(5)},
				{Event: "license.checked", Count: 1, Last: at(15)}, {Event: "license.installed", Count: 1, Last: at(15)}, {Event: "rollback", Count: 1, Last: at(20)},
				{Event: "rollout.abort", Count: 1, Last: at(19)}, {Event: "rollout.advance", Count: 7, Last: at(24)}, {Event: "rollout.command", Count: 2, Last: at(18)},
				{Event: "rollout.hold", Count: 1, Last: at(14)}, {Event: "rollout.pause", Count: 1, Last: at(15)}, {Event: "rollout.release-rolled-back", Count: 1, Last: at(20)},
				{Event: "rollout.resume", Count: 1, Last: at(18)}, {Event: "rollout.resumed", Count: 1, Last: at(17)}, {Event: "rollout.start", Count: 3, Last: at(21)},
				{Event: "rollout.succeed", Count: 2, Last: at(25)}, {Event: "serve.release", Count: 2, Last: at(21)}, {Event: "state.create", Count: 1, Last: at(0)}}},
		Integrity:  Integrity{Checked: true, Releases: 2},
		Algorithms: algorithms([]TrustKey{{Type: "ecdsa-p256"}, {Type: "openpgp"}}),
		Marks:      []Mark{{Name: highestMark, Value: "1.1.0"}, {Name: clockMark, Value: stamp(at(20))}},
		License: License{
			Release: "1.0.0", Product: "demo-app", Policy: true, Keys: 1, Required: true,
			Installed: &InstalledLicense{
				SHA256: licSHA, Verified: true, Recorded: true, ID: "lic-0001", Customer: "Example Customer", Product: "demo-app",
				Issued: issued, NotBefore: issued, Expires: expires, Grace: "720h0m0s", Versions: ">=1.0.0 <2.0.0", Nodes: 3, Installed: at(15),
			},
			State: "valid", UpdatesAllowed: true,
			History: []LicenseRecord{{ID: "lic-0001", Customer: "Example Customer", Issued: issued, Expires: expires, Installed: at(15), SHA256: licSHA}},
			Events: []LicenseEvent{
				{Seq: 25, Time: at(15), Event: "license.checked", License: "lic-0001", Customer: "Example Customer", Version: "1.1.0", State: "valid"},
				{Seq: 26, Time: at(15), Event: "license.installed", License: "lic-0001", Customer: "Example Customer",
					Detail: "issued 2026-01-15T00:00:00Z, expires 2027-01-15T00:00:00Z, file SHA-256 " + licSHA},
			},
		},
		Clock:    Clock{System: collected, HighWater: at(25), Now: collected, Tolerance: installer.ClockTolerance},
		Rollouts: rollouts,
		Configurations: []config.Report{
			{Release: "1.0.0", Revision: 1, Values: []config.ReportValue{
				{Name: "api_listen", Type: "address", Value: "0.0.0.0:8080", Set: true, Source: config.Source{Kind: config.FromFile, Where: "site.yaml:2"}},
				{Name: "replicas", Type: "int", Value: "2", Set: true, Source: config.Source{Kind: config.FromDefault}},
				{Name: "db_password", Type: "secret", Set: true, Secret: true, Source: config.Source{Kind: config.FromEnv, Where: "FERRY_VAR_DB_PASSWORD"}},
				{Name: "ca_bundle", Type: "file"},
			}},
			{Release: "1.1.0", Revision: 2, Values: []config.ReportValue{
				{Name: "api_listen", Type: "address", Value: "0.0.0.0:8080", Set: true, Source: config.Source{Kind: config.FromPrevious, Where: "revision 1, from file site.yaml:2"}},
				{Name: "replicas", Type: "int", Value: "4", Set: true, Source: config.Source{Kind: config.FromFlag, Where: "--set"}},
				{Name: "db_password", Type: "secret", Set: true, Secret: true, Source: config.Source{Kind: config.FromPrevious, Where: "revision 1, from env FERRY_VAR_DB_PASSWORD"}},
				{Name: "ca_bundle", Type: "file"},
			}},
		},
		ConfigChanges: []ConfigChange{
			{Seq: 7, Time: at(2), Release: "1.0.0", Revision: "1", Given: "api_listen (file), db_password (env)"},
			{Seq: 13, Time: at(11), Release: "1.1.0", Revision: "2", Given: "replicas (flag)"},
		},
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
	at := func(minute int) time.Time { return time.Date(2026, 2, 1, 9, minute, 0, 0, time.UTC) }
	empty := goldenEvidence()
	empty.Releases, empty.Trust, empty.Txns, empty.Bundles, empty.Integrity = nil, nil, nil, nil, Integrity{Problem: "no release is installed"}
	empty.Current, empty.License = "", License{UpdatesAllowed: true}
	expired := goldenEvidence()
	expired.License.State, expired.License.UpdatesAllowed = "expired", false
	expired.License.Problem = `licence lic-0001 for "Example Customer" expired at 2027-01-15T00:00:00Z and its grace of 720h0m0s ended at 2027-02-14T00:00:00Z (now 2027-03-01T12:00:00Z); install a renewed licence: licence expired`
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
				testenv.SkipOrFail(t, "xmllint is not installed (Debian package libxml2-utils); the CKL schema is not checked")
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
