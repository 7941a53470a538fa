package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The hash of an entry is part of the on-disk format that auditors check
// with their own tools; it must never change. The value was also computed
// from the documented encoding outside Go.
func TestHashAuditEntryStable(t *testing.T) {
	e := AuditEntry{
		Seq:    7,
		Time:   time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Event:  "trust.add",
		Fields: map[string]string{"id": "release-2026", "sha256": "ab"},
		Prev:   "00",
	}
	const want = "5b380c2cf77d9d2f3c4038d7d9c2d1f55475392c6565204267b2c2d467ebd4c2"
	if got := HashAuditEntry(e); got != want {
		t.Errorf("HashAuditEntry = %s, want %s", got, want)
	}
	// Moving a byte between fields changes the hash.
	e2 := e
	e2.Event, e2.Prev = "trust.ad", "d00"
	if HashAuditEntry(e2) == HashAuditEntry(e) {
		t.Error("field boundaries are not part of the hash")
	}
}

// auditRoot makes a root with entries 1 (state.create) to 6 and closes it.
func auditRoot(t *testing.T) string {
	t.Helper()
	root, db := newRoot(t)
	for i := 2; i <= 6; i++ {
		if err := db.Audit("event", map[string]string{"n": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, db)
	return root
}

func TestAuditLog(t *testing.T) {
	root := auditRoot(t)
	db, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Audit("", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty event: %v, want ErrInvalid", err)
	}
	fields := map[string]string{"version": "1.0.0", "by": "operator"}
	if err := db.Audit("install", fields); err != nil {
		t.Fatal(err)
	}
	fields["version"] = "changed after the call"

	log, err := db.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 7 {
		t.Fatalf("%d entries, want 7", len(log))
	}
	prev := ""
	for i, e := range log {
		if e.Seq != uint64(i+1) || e.Prev != prev || e.Hash != HashAuditEntry(e) || e.Time.Location() != time.UTC {
			t.Errorf("entry %d = %+v", i+1, e)
		}
		prev = e.Hash
	}
	if last := log[6]; last.Event != "install" || last.Fields["version"] != "1.0.0" {
		t.Errorf("last entry = %+v", last)
	}
	count, head, err := db.AuditHead()
	if err != nil || count != 7 || head != prev {
		t.Errorf("AuditHead = %d, %s, %v; want 7, %s", count, head, err, prev)
	}
	if err := db.VerifyAudit(); err != nil {
		t.Error(err)
	}
}

func TestAuditTamper(t *testing.T) {
	entry := func(tx *bolt.Tx, seq uint64) AuditEntry {
		var e AuditEntry
		if err := json.Unmarshal(tx.Bucket([]byte(bucketAudit)).Get(u64key(seq)), &e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	put := func(tx *bolt.Tx, key uint64, e AuditEntry) error {
		data, _ := json.Marshal(e)
		return tx.Bucket([]byte(bucketAudit)).Put(u64key(key), data)
	}
	cases := []struct {
		name   string
		seq    uint64
		reason string
		tamper func(tx *bolt.Tx) error
	}{
		{"field edited", 3, "edited", func(tx *bolt.Tx) error {
			e := entry(tx, 3)
			e.Fields["n"] = "33"
			return put(tx, 3, e)
		}},
		{"time edited", 4, "edited", func(tx *bolt.Tx) error {
			e := entry(tx, 4)
			e.Time = e.Time.Add(-time.Hour)
			return put(tx, 4, e)
		}},
		{"edited and rehashed", 4, "does not follow entry 3", func(tx *bolt.Tx) error {
			e := entry(tx, 3)
			e.Event = "nothing to see"
			e.Hash = HashAuditEntry(e)
			return put(tx, 3, e)
		}},
		{"entry removed", 3, "missing", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(bucketAudit)).Delete(u64key(3))
		}},
		{"two entries swapped", 3, "moved", func(tx *bolt.Tx) error {
			a, b := entry(tx, 3), entry(tx, 4)
			if err := put(tx, 3, b); err != nil {
				return err
			}
			return put(tx, 4, a)
		}},
		{"tail removed", 5, "removed", func(tx *bolt.Tx) error {
			log := tx.Bucket([]byte(bucketAudit))
			if err := log.Delete(u64key(6)); err != nil {
				return err
			}
			return log.Delete(u64key(5))
		}},
		{"entry added behind ferry's back", 7, "added", func(tx *bolt.Tx) error {
			last := entry(tx, 6)
			e := AuditEntry{Seq: 7, Time: last.Time, Event: "forged", Prev: last.Hash}
			e.Hash = HashAuditEntry(e)
			return put(tx, 7, e)
		}},
		{"head replaced", 6, "head", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyAuditHead), []byte("00"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := auditRoot(t)
			rawUpdate(t, root, c.tamper)
			db, err := OpenReadOnly(root)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.VerifyAudit()
			var ae *AuditError
			if !errors.As(err, &ae) || !errors.Is(err, ErrAuditBroken) {
				t.Fatalf("VerifyAudit: %v, want an AuditError", err)
			}
			if ae.Seq != c.seq || !strings.Contains(ae.Reason, c.reason) {
				t.Errorf("VerifyAudit: entry %d (%s), want entry %d (%q)", ae.Seq, ae.Reason, c.seq, c.reason)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("entry %d", c.seq)) || !strings.Contains(err.Error(), db.Path()) {
				t.Errorf("message %q should name the entry and the file", err)
			}
		})
	}
}
