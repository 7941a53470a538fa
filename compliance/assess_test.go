package compliance

import (
	"bytes"
	"context"
	"crypto/fips140"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ferry/installer"
	"ferry/installer/state"
	"ferry/verify"
)

// controls ferry can satisfy from its records on a healthy appliance.
func ferryControls() []string {
	return []string{"au-2", "au-3", "au-8", "au-9", "cm-7.5", "cm-8", "cm-14", "sa-10.1", "si-7", "si-7.1", "si-7.6", "si-7.15", "sr-4.3", "sr-11"}
}

func TestHealthyRoot(t *testing.T) {
	root, _, _ := installedRoot(t)
	ev, fs := collect(t, root)
	if len(fs) != len(assessors()) {
		t.Fatalf("%d findings for %d controls", len(fs), len(assessors()))
	}
	wantStatus(t, fs, Satisfied, ferryControls()...)
	wantStatus(t, fs, NotApplicable, "cm-10")
	if s := byControl(fs)["cm-10"].Summary; !strings.Contains(s, "release 1.0.0 names no licence keys") {
		t.Errorf("CM-10 does not say why it is not applicable: %s", s)
	}
	if fips140.Enabled() {
		wantStatus(t, fs, Satisfied, "sc-13")
	} else {
		wantStatus(t, fs, NotSatisfied, "sc-13")
	}
	for _, f := range fs {
		if f.Status == Satisfied && len(f.Evidence) == 0 {
			t.Errorf("%s is satisfied without evidence", f.Label)
		}
		if f.Title == "" || f.Statement == "" || f.Organisation == "" || f.Time.IsZero() {
			t.Errorf("%s is incomplete: %+v", f.Label, f)
		}
		for _, it := range f.Evidence {
			if it.Time.IsZero() && !strings.Contains(it.Description, "ferry logs") {
				t.Logf("%s: evidence without a time: %s", f.Label, it.Description)
			}
		}
	}
	if !ev.Audit.Verified || ev.Current != "1.0.0" || len(ev.Trust) != 1 || !ev.Integrity.Checked {
		t.Errorf("evidence: %+v", ev)
	}
	if len(ev.Migrations) == 0 {
		t.Error("no migrations recorded")
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
			t.Errorf("%s: two reports of the same state differ", format)
		}
	}
}

func TestBrokenAuditChain(t *testing.T) {
	root, _, _ := installedRoot(t)
	// Edit an entry in place, as someone with write access to state.db
	// could, without fixing the chain.
	db, err := bolt.Open(filepath.Join(root, "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		key := binary.BigEndian.AppendUint64(nil, 2)
		var e state.AuditEntry
		if err := json.Unmarshal(b.Get(key), &e); err != nil {
			return err
		}
		e.Event = "nothing.happened"
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put(key, data)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	ev, fs := collect(t, root)
	if ev.Audit.Verified || ev.Audit.BrokenAt != 2 {
		t.Fatalf("audit: %+v", ev.Audit)
	}
	wantStatus(t, fs, NotSatisfied, "au-2", "au-3", "au-8", "au-9", "si-7.1", "sr-4.3", "sr-11")
	// Evidence that does not come from the audit log still stands.
	wantStatus(t, fs, Satisfied, "cm-14", "si-7", "si-7.6", "cm-8")
	au9 := byControl(fs)["au-9"]
	if !strings.Contains(au9.Summary, "broken at entry 2") {
		t.Errorf("AU-9 does not say where the chain breaks: %s", au9.Summary)
	}
}

func TestRefusedBundle(t *testing.T) {
	root, b, key := installedRoot(t)
	b2 := buildBundle(t, filepath.Dir(b.path), "1.1.0", key)
	if _, err := installer.Install(context.Background(), tamper(t, b2), installer.Options{Root: root}); err == nil {
		t.Fatal("a tampered bundle was installed")
	}
	ev, fs := collect(t, root)
	refused := 0
	for _, e := range ev.Bundles {
		if e.Refused() {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d refusals in %+v", refused, ev.Bundles)
	}
	wantStatus(t, fs, NotSatisfied, "sr-4.3", "sr-11")
	// The refusal is evidence that signed-component checks work.
	wantStatus(t, fs, Satisfied, "cm-14", "si-7.15", "si-7", "au-9")
	for _, r := range checkRules(ev) {
		if r.num == 30 && r.status != NotSatisfied {
			t.Errorf("rule %s is %s after a refusal", r.version(), r.status)
		}
	}
}

func TestRefusedFirstBundle(t *testing.T) {
	// A root whose only bundle was refused has nothing verified to show.
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	if _, err := installer.Install(context.Background(), tamper(t, b), installer.Options{Root: root, Keys: [][]byte{b.pub}}); err == nil {
		t.Fatal("a tampered bundle was installed")
	}
	_, fs := collect(t, root)
	wantStatus(t, fs, NotSatisfied, "cm-14", "si-7", "si-7.15", "sr-4.3", "sr-11", "cm-8", "sa-10.1")
	wantStatus(t, fs, Satisfied, "au-2", "au-9")
}

func TestUnverifiedRelease(t *testing.T) {
	root, _, _ := installedRoot(t)
	// A release put into the state behind ferry's back: no install
	// transaction verified it, and its manifest does not match its digest.
	db, err := state.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := db.Release("1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	err = db.PutRelease(state.Release{
		Version: "9.0.0", ManifestDigest: "sha256:" + strings.Repeat("0", 64), Manifest: cur.Manifest,
		Components: cur.Components, Status: state.StatusInactive,
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	_, fs := collect(t, root)
	wantStatus(t, fs, NotSatisfied, "cm-14", "si-7.15", "cm-7.5", "si-7.6", "sa-10.1", "sr-4.3", "sr-11")
	if s := byControl(fs)["cm-14"].Summary; !strings.Contains(s, "9.0.0") {
		t.Errorf("CM-14 does not name the release: %s", s)
	}
}

// SC-13 claims FIPS only when the binary runs in FIPS 140-3 mode, and
// never for a scheme outside the Go Cryptographic Module.
func TestFIPSClaim(t *testing.T) {
	ev := goldenEvidence()
	wantStatus(t, Assess(ev), NotSatisfied, "sc-13")
	ev.Tool.FIPS140, ev.Tool.FIPS140Module = true, "v1.0.0"
	wantStatus(t, Assess(ev), NotSatisfied, "sc-13") // an OpenPGP key is trusted
	ev.Trust = ev.Trust[:1]
	ev.Algorithms = algorithms(ev.Trust)
	wantStatus(t, Assess(ev), Satisfied, "sc-13")
}

// CM-10 and the licence rule are decided from the licence evidence alone:
// satisfied only for a verified, recorded, valid licence that ferry
// checked; a licence in its grace period says so; nothing to enforce is
// not applicable.
func TestLicenseDecisions(t *testing.T) {
	cases := []struct {
		name   string
		change func(ev *Evidence)
		want   Status
		say    string // in the summary
		detail string // in an evidence item
	}{
		{"valid", func(*Evidence) {}, Satisfied, "valid until 2027-01-15", "verified against the licence keys of release 1.0.0"},
		{"no policy", func(ev *Evidence) { ev.License = License{Release: "1.0.0", UpdatesAllowed: true} }, NotApplicable, "names no licence keys", ""},
		{"optional and none", func(ev *Evidence) {
			ev.License.Required, ev.License.Installed, ev.License.State = false, nil, ""
		}, NotApplicable, "does not require one", ""},
		{"grace", func(ev *Evidence) {
			ev.License.State, ev.License.GraceEnds = "grace", time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
		}, Satisfied, "IT HAS EXPIRED and is in its grace period", "THE LICENCE HAS EXPIRED"},
		{"required and missing", func(ev *Evidence) {
			ev.License.Installed, ev.License.State, ev.License.UpdatesAllowed = nil, "", false
			ev.License.Problem = "no licence is installed and release 1.0.0 requires one"
		}, NotSatisfied, "no licence is installed", ""},
		{"never checked", func(ev *Evidence) { ev.License.Events = ev.License.Events[1:] }, NotSatisfied, "no check of licence lic-0001", ""},
		{"not the recorded file", func(ev *Evidence) { ev.License.Installed.Recorded = false }, NotSatisfied, "behind ferry's back", ""},
		{"does not verify", func(ev *Evidence) {
			in := &InstalledLicense{SHA256: ev.License.Installed.SHA256}
			ev.License.Installed, ev.License.State = in, ""
			ev.License.Problem = "licence is not signed by a trusted key: no signature by a trusted key"
		}, NotSatisfied, "untrusted or tampered with", ""},
		{"audit log broken", func(ev *Evidence) { ev.Audit.Verified = false }, NotSatisfied, "does not verify", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := goldenEvidence()
			c.change(ev)
			f := byControl(Assess(ev))["cm-10"]
			if f.Status != c.want || !strings.Contains(f.Summary, c.say) {
				t.Fatalf("CM-10 is %s (%s), want %s saying %q", f.Status, f.Summary, c.want, c.say)
			}
			if c.detail != "" && !hasEvidence(f, c.detail) {
				t.Errorf("no evidence says %q: %+v", c.detail, f.Evidence)
			}
			for _, r := range checkRules(ev) {
				if r.num == 110 && r.status != c.want {
					t.Errorf("rule %s is %s, CM-10 %s", r.version(), r.status, c.want)
				}
			}
		})
	}
}

// AU-8 fails for a clock behind the high-water mark now, and for one that
// ferry found behind before.
func TestClockDecisions(t *testing.T) {
	ev := goldenEvidence()
	wantStatus(t, Assess(ev), Satisfied, "au-8")

	ev.Clock.System, ev.Clock.Behind = ev.Clock.HighWater.Add(-time.Hour), true
	f := byControl(Assess(ev))["au-8"]
	if f.Status != NotSatisfied || !strings.Contains(f.Summary, "1h0m0s behind the latest time this host has seen") {
		t.Errorf("AU-8 with the clock behind: %s: %s", f.Status, f.Summary)
	}

	ev = goldenEvidence()
	ev.Clock.Events = []ClockEvent{{Seq: 17, Time: ev.Audit.Last, System: "2026-01-01T00:00:00Z", HighWater: "2026-02-01T09:20:00Z"}}
	f = byControl(Assess(ev))["au-8"]
	if f.Status != NotSatisfied || !strings.Contains(f.Summary, "at audit entry 17") {
		t.Errorf("AU-8 after a clock.behind record: %s: %s", f.Status, f.Summary)
	}
	for _, r := range checkRules(ev) {
		if r.num == 70 && r.status != NotSatisfied {
			t.Errorf("rule %s is %s after a clock.behind record", r.version(), r.status)
		}
	}
}

func hasEvidence(f Finding, text string) bool {
	for _, it := range f.Evidence {
		if strings.Contains(it.Description, text) {
			return true
		}
	}
	return false
}

// TestRotatedTrust: a key that a rotation statement brought in is evidence
// with the time of the rotation and the statement's number, not a key of
// unknown origin.
func TestRotatedTrust(t *testing.T) {
	root, _, _ := installedRoot(t)
	next := newKey(t)
	nextPub := buildBundle(t, t.TempDir(), "1.0.1", next).pub
	db, err := state.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := verify.ParsePublicKey(nextPub)
	if err != nil {
		t.Fatal(err)
	}
	retired := map[string]state.RetiredKey{"material-of-the-old-key": {ID: "the-old-key", Sequence: 1}}
	if err := db.RotateTrust(state.TrustRotation{Sequence: 1, Threshold: 1}, map[string][]byte{pk.ID(): nextPub}, retired); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ev, fs := collect(t, root)
	if len(ev.Trust) != 1 || ev.Trust[0].ID != pk.ID() || ev.Trust[0].Rotation != 1 || ev.Trust[0].Added.IsZero() {
		t.Fatalf("trust evidence after a rotation: %+v", ev.Trust)
	}
	if ev.TrustThreshold != 1 || len(ev.Retired) != 1 || ev.Retired[0] != (RetiredKey{Material: "material-of-the-old-key", ID: "the-old-key", Rotation: 1}) {
		t.Fatalf("threshold %d and retired keys %+v after a rotation", ev.TrustThreshold, ev.Retired)
	}
	found, foundRetired := false, false
	for _, f := range fs {
		for _, it := range f.Evidence {
			if strings.Contains(it.Description, "handed trust by key rotation statement 1") {
				found = true
			}
			if strings.Contains(it.Description, "key the-old-key (material material-of-the-old-key) was retired by key rotation statement 1") {
				foundRetired = true
			}
		}
	}
	if !found {
		t.Error("no finding names the rotation that brought the key in")
	}
	if !foundRetired {
		t.Error("no finding names the key the rotation retired")
	}
}
