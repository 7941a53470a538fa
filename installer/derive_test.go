package installer

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ferry/installer/state"
)

// TestVerifyDerivedFindsHandEdits changes state.db with bbolt, as someone
// with a bbolt tool and no ferry would: each change to security state that
// bypassed ferry (and so wrote no audit entry) is reported, while the
// chain itself still verifies.
func TestVerifyDerivedFindsHandEdits(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		b := buildBundle(t, dir, v, key)
		if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Rollback(context.Background(), root, RollbackOptions{To: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	// The host has seen a time an hour ahead, and ferry found its clock
	// behind it (clock.behind records that time).
	db, err := state.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	ahead := time.Now().Add(time.Hour).UTC()
	must(t, db.SetMark(clockMark, []byte(ahead.Format(time.RFC3339Nano))))
	if _, err := observeClock(db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := verifyDerivedAt(t, root); err != nil {
		t.Fatalf("untouched state: %v", err)
	}
	strangerKey := newKey(t)
	stranger := pubPEM(t, strangerKey)
	for _, tc := range []struct {
		name, want string
		edit       func(tx *bolt.Tx) error
	}{
		{"a key added", "no audit entry added it", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("trust")).Put([]byte(keyID(t, strangerKey)), stranger)
		}},
		{"a key replaced", "not the key the audit log recorded", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("trust")).Put([]byte(keyID(t, key)), stranger)
		}},
		{"a key removed", "missing from state.db", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("trust")).Delete([]byte(keyID(t, key)))
		}},
		{"the threshold raised", "threshold", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("marks")).Put([]byte("trust.threshold"), []byte("2"))
		}},
		{"the current release switched", `the current release is "1.1.0", the audit log says "1.0.0"`, func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("current"), []byte("1.1.0"))
		}},
		{"the latest time seen lowered", "the latest time this host has seen is recorded as", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("marks")).Put([]byte(clockMark), []byte(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)))
		}},
		{"the highest version lowered", "highest version ever installed is \"1.0.0\"", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("marks")).Put([]byte(highestMark), []byte("1.0.0"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copyRoot := filepath.Join(t.TempDir(), "root")
			if err := os.MkdirAll(copyRoot, 0o700); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(root, "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(copyRoot, "state.db")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			bdb, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := bdb.Update(tc.edit); err != nil {
				t.Fatal(err)
			}
			bdb.Close()
			err = verifyDerivedAt(t, copyRoot)
			if !errors.Is(err, state.ErrAuditBroken) || !errors.Is(err, ErrStateDiverged) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a divergence saying %q", err, tc.want)
			}
		})
	}
}

func verifyDerivedAt(t *testing.T, root string) error {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.VerifyAudit(); err != nil {
		t.Fatalf("the chain itself: %v", err)
	}
	return VerifyDerived(db)
}

// TestVerifyDerivedFindsUnretiredKey: deleting the record that a rotation
// retired a key, with a bbolt tool, so that --key would take it again, is
// found by audit --verify.
func TestVerifyDerivedFindsUnretiredKey(t *testing.T) {
	root, old, _ := rotatedHost(t, t.TempDir())
	bdb, err := bolt.Open(filepath.Join(root, "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		marks := tx.Bucket([]byte("marks"))
		var names [][]byte
		c := marks.Cursor()
		for k, _ := c.Seek([]byte("trust.retired.")); k != nil && strings.HasPrefix(string(k), "trust.retired."); k, _ = c.Next() {
			names = append(names, append([]byte(nil), k...))
		}
		if len(names) == 0 {
			return errors.New("no retired key recorded")
		}
		for _, k := range names {
			if err := marks.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = verifyDerivedAt(t, root)
	if !errors.Is(err, ErrStateDiverged) || !strings.Contains(err.Error(), "key "+keyID(t, old)+" is retired by the audit log but not in state.db") {
		t.Fatalf("got %v, want a divergence naming the retired key", err)
	}
}
