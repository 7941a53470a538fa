package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// populated makes a root whose state.db holds enough to span many pages.
func populated(t *testing.T) string {
	t.Helper()
	root, db := newRoot(t)
	for i := range 20 {
		r := Release{
			Version:        fmt.Sprintf("1.%d.0", i),
			ManifestDigest: fmt.Sprintf("sha256:%064d", i),
			Manifest:       bytes.Repeat([]byte(fmt.Sprintf(`{"release":%d}`, i)), 300),
			Status:         StatusInactive,
		}
		if err := db.PutRelease(r); err != nil {
			t.Fatal(err)
		}
		if err := db.Audit("release.put", map[string]string{"version": r.Version}); err != nil {
			t.Fatal(err)
		}
	}
	txn, err := db.BeginTxn("install", "1.19.0", "sha256:x")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := db.RecordStep(txn.ID, fmt.Sprintf("step-%d", i), PhaseStarted, strings.Repeat("d", 100)); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, db)
	return root
}

// leafInMiddle returns the file offset and page size of a leaf page near
// the middle of state.db.
func leafInMiddle(t *testing.T, path string) (int64, int64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var off, size int64
	err = b.View(func(tx *bolt.Tx) error {
		size = int64(b.Info().PageSize)
		pages := tx.Size() / size
		for id := pages / 2; id < pages; id++ {
			p, err := tx.Page(int(id))
			if err != nil {
				return err
			}
			if p != nil && p.Type == "leaf" {
				off = id * size
				return nil
			}
		}
		return errors.New("no leaf page in the second half")
	})
	if err != nil {
		t.Fatal(err)
	}
	return off, size
}

func TestCorruptStateDB(t *testing.T) {
	random := func(n int) []byte {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	overwrite := func(t *testing.T, path string, off int64, data []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, root, path string)
	}{
		{"random file", func(t *testing.T, root, path string) {
			if err := os.WriteFile(path, random(64<<10), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"short text file", func(t *testing.T, root, path string) {
			if err := os.WriteFile(path, []byte("not a database\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"empty", func(t *testing.T, root, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated to half", func(t *testing.T, root, path string) {
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, info.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut after the meta pages", func(t *testing.T, root, path string) {
			if err := os.Truncate(path, 3*4096); err != nil {
				t.Fatal(err)
			}
		}},
		{"leaf page in the middle overwritten", func(t *testing.T, root, path string) {
			off, size := leafInMiddle(t, path)
			overwrite(t, path, off, random(int(size)))
		}},
		{"bytes inside a record overwritten", func(t *testing.T, root, path string) {
			data, _ := os.ReadFile(path)
			i := bytes.Index(data, []byte(`"step-25"`))
			if i < 0 {
				t.Fatal("record not found in the file")
			}
			overwrite(t, path, int64(i), random(64))
		}},
		{"both meta pages zeroed", func(t *testing.T, root, path string) {
			overwrite(t, path, 0, make([]byte, 2*4096))
		}},
		{"a bbolt file that is not ferry's", func(t *testing.T, root, path string) {
			os.Remove(path)
			b, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = b.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("other"))
				return err
			})
			if cerr := b.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"a bucket missing", func(t *testing.T, root, path string) {
			rawUpdate(t, root, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bucketMarks)) })
		}},
		{"schema version garbled", func(t *testing.T, root, path string) {
			rawUpdate(t, root, func(tx *bolt.Tx) error {
				return tx.Bucket([]byte(bucketMeta)).Put([]byte(keySchema), []byte("one"))
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := populated(t)
			path := filepath.Join(root, dbName)
			c.damage(t, root, path)
			before := fileDigest(t, path)

			opens := map[string]func() (*DB, error){
				"Open":         func() (*DB, error) { return Open(root, false) },
				"Open create":  func() (*DB, error) { return Open(root, true) },
				"OpenReadOnly": func() (*DB, error) { return OpenReadOnly(root) },
			}
			for name, open := range opens {
				db, err := open()
				if !errors.Is(err, ErrCorrupt) {
					db.Close()
					t.Fatalf("%s: %v, want ErrCorrupt", name, err)
				}
				if name == "Open" {
					t.Log(err)
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore it from backup") {
					t.Errorf("%s: message %q should name the file and say to restore it", name, err)
				}
			}
			if after := fileDigest(t, path); after != before {
				t.Errorf("state.db changed by the failed opens")
			}
		})
	}
}

func fileDigest(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}
