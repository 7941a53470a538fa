package state

import (
	"errors"
	"strings"
	"testing"
)

func TestTrust(t *testing.T) {
	root, db := newRoot(t)
	pubA := []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	pubB := []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\nBBBB\n-----END PGP PUBLIC KEY BLOCK-----\n")
	if err := db.AddTrust("a", pubA); err != nil {
		t.Fatal(err)
	}
	if err := db.AddTrust("b", pubB); err != nil {
		t.Fatal(err)
	}
	if err := db.AddTrust("a", pubA); err != nil {
		t.Errorf("adding the same key again: %v", err)
	}
	if err := db.AddTrust("a", pubB); !errors.Is(err, ErrExists) {
		t.Errorf("replacing key a: %v, want ErrExists", err)
	}
	if err := db.AddTrust("", pubA); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty id: %v, want ErrInvalid", err)
	}
	if err := db.RemoveTrust("b"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveTrust("b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a missing key: %v, want ErrNotFound", err)
	}
	mustClose(t, db)

	db, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := db.Trust()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || string(keys["a"]) != string(pubA) {
		t.Errorf("Trust after reopen = %q, want only a", keys)
	}

	// The changes are audited by digest, never with the key itself.
	log, err := db.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range log {
		events = append(events, e.Event+":"+e.Fields["id"])
		for _, v := range e.Fields {
			if strings.Contains(v, "PUBLIC KEY") {
				t.Errorf("audit entry %d holds key material", e.Seq)
			}
		}
	}
	if got, want := strings.Join(events, " "), "state.create: trust.add:a trust.add:b trust.remove:b"; got != want {
		t.Errorf("audited %q, want %q", got, want)
	}
}

func TestRotateTrust(t *testing.T) {
	_, db := newRoot(t)
	if err := db.AddTrust("old", []byte("old key")); err != nil {
		t.Fatal(err)
	}
	if err := db.AddTrust("kept", []byte("kept key")); err != nil {
		t.Fatal(err)
	}
	if tr, err := db.TrustRotation(); err != nil || tr != (TrustRotation{}) {
		t.Fatalf("before any rotation: %+v, %v", tr, err)
	}
	to := TrustRotation{Sequence: 2, Threshold: 2}
	retired := map[string]RetiredKey{"material-of-old": {ID: "old", Sequence: 2}}
	if err := db.RotateTrust(to, map[string][]byte{"kept": []byte("kept key"), "new": []byte("new key")}, retired); err != nil {
		t.Fatal(err)
	}
	if got, err := db.RetiredKeys(); err != nil || len(got) != 1 || got["material-of-old"] != retired["material-of-old"] {
		t.Errorf("retired keys recorded as %+v, %v; want %+v", got, err, retired)
	}
	keys, err := db.Trust()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || string(keys["new"]) != "new key" || string(keys["kept"]) != "kept key" || keys["old"] != nil {
		t.Errorf("trust after the rotation: %q", keys)
	}
	if tr, err := db.TrustRotation(); err != nil || tr != to {
		t.Errorf("rotation recorded as %+v, %v; want %+v", tr, err, to)
	}
	for _, seq := range []int{1, 2} {
		err := db.RotateTrust(TrustRotation{Sequence: seq, Threshold: 1}, map[string][]byte{"old": []byte("old key")}, nil)
		if !errors.Is(err, ErrStale) {
			t.Errorf("rotation back to statement %d: %v, want ErrStale", seq, err)
		}
	}
	if keys, _ := db.Trust(); keys["old"] != nil {
		t.Error("a refused rotation changed the trust")
	}
	entries, err := db.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Event != "trust.rotate" || last.Fields["removed"] != "old" || last.Fields["added"] != "new" || last.Fields["to"] != "2" || last.Fields["retired"] != "old" {
		t.Errorf("audit entry %+v", last)
	}
}

func TestSetTrustThreshold(t *testing.T) {
	_, db := newRoot(t)
	if err := db.SetTrustThreshold(1); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTrustThreshold(0); !errors.Is(err, ErrInvalid) {
		t.Errorf("threshold 0: %v, want ErrInvalid", err)
	}
	if err := db.SetTrustThreshold(2); err != nil {
		t.Fatal(err)
	}
	if tr, err := db.TrustRotation(); err != nil || tr.Threshold != 2 {
		t.Errorf("threshold recorded as %+v, %v", tr, err)
	}
	entries, err := db.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, e := range entries {
		if e.Event == "trust.threshold" {
			changes = append(changes, e.Fields["from"]+">"+e.Fields["to"])
		}
	}
	if strings.Join(changes, " ") != "1>2" {
		t.Errorf("audited threshold changes %q, want only 1>2", changes)
	}
}
