package compliance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ferry/bundle"
	"ferry/installer"
	"ferry/license"
	"ferry/verify"
)

// testFingerprint is the host fingerprint the licensed installs are given;
// it is not the fingerprint of the host the tests run on.
const testFingerprint = "fp1:00112233445566778899aabbccddeeff"

// licensed is a vendor with a release key and a licence key, whose
// bundles of product "licensed" carry the licence key in ferry.yaml.
type licensed struct {
	dir        string
	release    *ecdsa.PrivateKey
	releasePub []byte
	vendor     verify.Signer
	other      verify.Signer
	vendorPub  []byte
}

func newLicensed(t *testing.T) *licensed {
	t.Helper()
	l := &licensed{dir: t.TempDir(), release: newKey(t)}
	l.releasePub = publicPEM(t, l.release)
	vendor, other := newKey(t), newKey(t)
	l.vendorPub = publicPEM(t, vendor)
	var err error
	if l.vendor, err = verify.NewSigner(vendor); err != nil {
		t.Fatal(err)
	}
	if l.other, err = verify.NewSigner(other); err != nil {
		t.Fatal(err)
	}
	return l
}

func publicPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// bundle builds version of the licensed product, a licence required or
// only accepted.
func (l *licensed) bundle(t *testing.T, version string, required bool) string {
	t.Helper()
	dir := filepath.Join(l.dir, "project-"+version)
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	req := "false"
	if required {
		req = "true"
	}
	spec := "apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: licensed, version: " + version + ", vendor: Example Corp}\n" +
		"license: {required: " + req + ", keys: [keys/license.pub]}\n" +
		"components:\n  - name: core\n    files: [{src: core.conf, dest: core.conf}]\n"
	for name, data := range map[string][]byte{
		"keys/license.pub": l.vendorPub,
		"core.conf":        []byte("core " + version + "\n"),
		"ferry.yaml":       []byte(spec),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := verify.NewSigner(l.release)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(l.dir, "licensed-"+version+".ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: s, Signers: []verify.Signer{signer}}); err != nil {
		t.Fatal(err)
	}
	return out
}

// issue signs a licence for customer ACME, valid for 30 days unless lic
// says otherwise.
func (l *licensed) issue(t *testing.T, lic license.License, signer verify.Signer) []byte {
	t.Helper()
	if lic.Customer == "" {
		lic.Customer = "ACME"
	}
	if lic.Expires.IsZero() {
		lic.Expires = time.Now().Add(30 * 24 * time.Hour)
	}
	data, err := license.Issue(lic, signer)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// install installs version 1.0.0 (a licence required) with lic into a new
// root, on a host whose fingerprint is testFingerprint.
func (l *licensed) install(t *testing.T, lic []byte) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	_, err := installer.Install(context.Background(), l.bundle(t, "1.0.0", true), installer.Options{
		Root: root, Keys: [][]byte{l.releasePub}, License: lic, Fingerprints: []string{testFingerprint},
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// setMark changes a mark of the state as someone with write access to
// state.db could; nil deletes it.
func setMark(t *testing.T, root, name string, value []byte) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(root, "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("marks"))
		if value == nil {
			return b.Delete([]byte(name))
		}
		return b.Put([]byte(name), value)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

func wantSummary(t *testing.T, fs []Finding, control string, want Status, text string) Finding {
	t.Helper()
	f := byControl(fs)[control]
	if f.Status != want || !strings.Contains(f.Summary, text) {
		t.Errorf("%s is %s (%s), want %s saying %q", f.Label, f.Status, f.Summary, want, text)
	}
	return f
}

func wantRule(t *testing.T, ev *Evidence, num int, want Status) {
	t.Helper()
	for _, r := range checkRules(ev) {
		if r.num == num && r.status != want {
			t.Errorf("rule %s is %s, want %s: %s", r.version(), r.status, want, r.details)
		}
	}
}

func TestValidLicense(t *testing.T) {
	l := newLicensed(t)
	root := l.install(t, l.issue(t, license.License{Product: "licensed", Versions: ">=1.0.0 <2.0.0", Nodes: 5}, l.vendor))
	ev, fs := collect(t, root)
	cm10 := wantSummary(t, fs, "cm-10", Satisfied, "is enforced by ferry")
	for _, want := range []string{"requires a licence", "5 node(s), which ferry records but does not count", "found it valid", "verified against the licence keys of release 1.0.0"} {
		if !hasEvidence(cm10, want) {
			t.Errorf("CM-10 evidence does not say %q: %+v", want, cm10.Evidence)
		}
	}
	wantStatus(t, fs, Satisfied, ferryControls()...)
	wantRule(t, ev, 110, Satisfied)
	lic := ev.License
	if !lic.Policy || !lic.Required || lic.Keys != 1 || lic.State != "valid" || !lic.UpdatesAllowed || lic.Problem != "" ||
		lic.Installed == nil || !lic.Installed.Verified || !lic.Installed.Recorded || lic.Installed.Customer != "ACME" ||
		lic.Installed.Product != "licensed" || len(lic.History) != 1 || lic.Installed.Installed.IsZero() {
		t.Fatalf("licence evidence: %+v %+v", lic, lic.Installed)
	}
	var events []string
	for _, e := range lic.Events {
		events = append(events, e.Event)
		if e.Seq == 0 || e.Time.IsZero() {
			t.Errorf("event without its entry: %+v", e)
		}
	}
	if strings.Join(events, " ") != "license.checked license.installed" {
		t.Errorf("enforcement events %v", events)
	}
	if ev.Clock.Behind || ev.Clock.HighWater.IsZero() || !ev.Clock.Now.Equal(ev.Collected) {
		t.Errorf("clock: %+v", ev.Clock)
	}

	// The same state and time give the same report.
	ev2, fs2 := collect(t, root)
	for _, format := range Formats() {
		var a, b bytes.Buffer
		if err := Write(&a, format, ev, fs); err != nil {
			t.Fatal(err)
		}
		if err := Write(&b, format, ev2, fs2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two reports of the same licensed state differ", format)
		}
	}
}

func TestLicenseInGrace(t *testing.T) {
	l := newLicensed(t)
	now := time.Now()
	root := l.install(t, l.issue(t, license.License{Issued: now.Add(-60 * 24 * time.Hour), Expires: now.Add(-24 * time.Hour), Grace: 30 * 24 * time.Hour}, l.vendor))
	ev, fs := collect(t, root)
	cm10 := wantSummary(t, fs, "cm-10", Satisfied, "IT HAS EXPIRED and is in its grace period")
	if !hasEvidence(cm10, "THE LICENCE HAS EXPIRED") || !hasEvidence(cm10, "was used in its grace period") {
		t.Errorf("CM-10 does not say the licence is in its grace period: %+v", cm10.Evidence)
	}
	if ev.License.State != "grace" || ev.License.GraceEnds.IsZero() {
		t.Errorf("licence: %+v", ev.License)
	}
}

// A licence installed in its grace period, on a host that has since seen
// a time past the grace (its clock-high-water mark), is expired.
func TestExpiredLicense(t *testing.T) {
	l := newLicensed(t)
	now := time.Now()
	root := l.install(t, l.issue(t, license.License{Issued: now.Add(-60 * 24 * time.Hour), Expires: now.Add(-24 * time.Hour), Grace: 30 * 24 * time.Hour}, l.vendor))
	seen := now.Add(40 * 24 * time.Hour).UTC()
	setMark(t, root, clockMark, []byte(seen.Format(time.RFC3339Nano)))
	ev, fs := collectAt(t, root, seen.Add(time.Hour))
	wantSummary(t, fs, "cm-10", NotSatisfied, "expired")
	wantStatus(t, fs, Satisfied, "au-8")
	wantRule(t, ev, 110, NotSatisfied)
	if ev.License.State != "expired" || ev.License.UpdatesAllowed {
		t.Errorf("licence: %+v", ev.License)
	}
}

func TestRequiredLicenseMissing(t *testing.T) {
	l := newLicensed(t)
	root := l.install(t, l.issue(t, license.License{}, l.vendor))
	setMark(t, root, licenseMark, nil) // removed behind ferry's back
	// ferry refuses an update without a licence, and a licence by a key
	// the release does not name.
	opts := installer.Options{Root: root, Fingerprints: []string{testFingerprint}}
	if _, err := installer.Install(context.Background(), l.bundle(t, "1.1.0", true), opts); err == nil {
		t.Fatal("an update was installed without the licence it requires")
	}
	if _, err := installer.InstallLicense(root, l.issue(t, license.License{}, l.other), []string{testFingerprint}, nil); err == nil {
		t.Fatal("a licence by another key was installed")
	}
	ev, fs := collect(t, root)
	cm10 := wantSummary(t, fs, "cm-10", NotSatisfied, "no licence is installed and release 1.0.0 requires one")
	wantRule(t, ev, 110, NotSatisfied)
	if ev.License.UpdatesAllowed || len(ev.License.History) != 1 {
		t.Errorf("licence: %+v", ev.License)
	}
	for _, want := range []string{"ferry refused bundle licensed-1.1.0.ferry: a licence is required", "ferry refused to install a licence: the licence given: licence is not signed by a trusted key"} {
		if !hasEvidence(cm10, want) {
			t.Errorf("CM-10 evidence does not say %q: %+v", want, cm10.Evidence)
		}
	}
}

// A stored licence that is not the vendor's, not intact, or not the one
// ferry installed is named as such.
func TestLicenseReplaced(t *testing.T) {
	l := newLicensed(t)
	now := time.Now()
	older := l.issue(t, license.License{Issued: now.Add(-48 * time.Hour)}, l.vendor)
	root := l.install(t, l.issue(t, license.License{Issued: now.Add(-24 * time.Hour)}, l.vendor))
	for _, c := range []struct {
		name string
		data []byte
		say  string
	}{
		{"another key", l.issue(t, license.License{}, l.other), "untrusted or tampered with"},
		{"tampered", []byte(strings.Replace(string(older), `"payload":"`, `"payload":"A`, 1)), "untrusted or tampered with"},
		{"older licence", older, "not the one ferry last installed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			setMark(t, root, licenseMark, c.data)
			ev, fs := collect(t, root)
			wantSummary(t, fs, "cm-10", NotSatisfied, c.say)
			wantRule(t, ev, 110, NotSatisfied)
		})
	}
}

// Collect judges a licence bound to a host against the fingerprints of
// the host it runs on.
func TestLicenseBoundToAnotherHost(t *testing.T) {
	l := newLicensed(t)
	root := l.install(t, l.issue(t, license.License{Bind: testFingerprint}, l.vendor))
	_, fs := collect(t, root)
	wantSummary(t, fs, "cm-10", NotSatisfied, "is bound to host "+testFingerprint)
}

// A clock behind the latest time the host has seen fails AU-8 while it
// is behind, and the clock.behind entry ferry records keeps it failed.
func TestClockBehind(t *testing.T) {
	l := newLicensed(t)
	data := l.issue(t, license.License{}, l.vendor)
	root := l.install(t, data)
	ahead := time.Now().Add(48 * time.Hour).UTC()
	setMark(t, root, clockMark, []byte(ahead.Format(time.RFC3339Nano)))

	ev, fs := collect(t, root)
	wantSummary(t, fs, "au-8", NotSatisfied, "behind the latest time this host has seen ("+stamp(ahead)+")")
	wantRule(t, ev, 70, NotSatisfied)
	if !ev.Clock.Behind || !ev.Clock.Now.Equal(ahead) {
		t.Errorf("clock: %+v", ev.Clock)
	}
	// The licence is still judged, at the later time.
	wantStatus(t, fs, Satisfied, "cm-10")

	// Checking the licence again records the clock found behind.
	if _, err := installer.InstallLicense(root, data, []string{testFingerprint}, nil); err != nil {
		t.Fatal(err)
	}
	ev, fs = collectAt(t, root, ahead.Add(time.Hour))
	if ev.Clock.Behind || len(ev.Clock.Events) != 1 {
		t.Fatalf("clock: %+v", ev.Clock)
	}
	au8 := wantSummary(t, fs, "au-8", NotSatisfied, "at audit entry")
	if !hasEvidence(au8, "ferry found the system clock at") {
		t.Errorf("AU-8 evidence does not show the clock.behind entry: %+v", au8.Evidence)
	}

	// A mark that is not a time was written behind ferry's back.
	setMark(t, root, clockMark, []byte("yesterday"))
	_, fs = collectAt(t, root, ahead.Add(time.Hour))
	wantSummary(t, fs, "au-8", NotSatisfied, `mark "yesterday" is not a time`)

	// The next licence check audits it and writes the mark anew; the
	// entry keeps AU-8 failed.
	if _, err := installer.InstallLicense(root, data, []string{testFingerprint}, nil); err != nil {
		t.Fatal(err)
	}
	ev, fs = collectAt(t, root, ahead.Add(2*time.Hour))
	if ev.Clock.Problem != "" || len(ev.Clock.Events) != 2 || ev.Clock.Events[1].BadMark != `"yesterday"` {
		t.Fatalf("clock: %+v", ev.Clock)
	}
	au8 = wantSummary(t, fs, "au-8", NotSatisfied, `replaced by "yesterday"`)
	if !hasEvidence(au8, "which is not a time") {
		t.Errorf("AU-8 evidence does not show the clock.mark-invalid entry: %+v", au8.Evidence)
	}
}
