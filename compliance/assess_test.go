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

	bolt "go.etcd.io/bbolt"

	"ferry/installer"
	"ferry/installer/state"
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

// Without licences in this ferry, licence findings are not applicable,
// never satisfied.
func TestNoLicence(t *testing.T) {
	fs := Assess(goldenEvidence())
	wantStatus(t, fs, NotApplicable, "cm-10")
	for _, r := range checkRules(goldenEvidence()) {
		if r.num == 110 && r.status != NotApplicable {
			t.Errorf("licence rule is %s", r.status)
		}
	}
}
