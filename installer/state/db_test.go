package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"ferry/internal/atomicfile"
)

// TestCreateRemovesLeftovers: what a create killed part-way left (a
// pending file, or an older ferry's state.db.new) neither stops the next
// create nor stays behind.
func TestCreateRemovesLeftovers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "appliance")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{atomicfile.TempPrefix + "CRASHED", oldTempName} {
		if err := os.WriteFile(filepath.Join(root, name), []byte("half a state.db"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
	assertNoLeftovers(t, root)
}

func assertNoLeftovers(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if isLeftover(e.Name()) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestCreateAndReopen(t *testing.T) {
	root, db := newRoot(t)
	if err := db.SetMark("m", []byte("v")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)

	for name, want := range map[string]fs.FileMode{".": 0o700, dbName: 0o600, lockName: 0o600} {
		info, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", name, got, want)
		}
	}
	assertNoLeftovers(t, root)

	// Opening with create on an existing root keeps what is there.
	for _, create := range []bool{false, true} {
		db, err := Open(root, create)
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.Mark("m")
		if err != nil || string(v) != "v" {
			t.Errorf("create=%t: mark = %q, %v; want v", create, v, err)
		}
		mustClose(t, db)
	}
	// Close is idempotent.
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenTightensMode(t *testing.T) {
	root, db := newRoot(t)
	mustClose(t, db)
	path := filepath.Join(root, dbName)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode %o after Open, want 600", got)
	}
}

func TestNotARoot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	full := filepath.Join(dir, "full")
	for _, d := range []string{empty, full} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		root   string
		create bool
	}{
		{"missing", filepath.Join(dir, "missing"), false},
		{"a file", file, false},
		{"a file, create", file, true},
		{"no state.db", empty, false},
		{"other files, create", full, true},
		{"empty path", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(c.root, c.create)
			if !errors.Is(err, ErrNotARoot) {
				db.Close()
				t.Fatalf("Open: %v, want ErrNotARoot", err)
			}
			if c.root != "" && !strings.Contains(err.Error(), c.root) {
				t.Errorf("message does not name the root: %v", err)
			}
			if !c.create {
				db, err := OpenReadOnly(c.root)
				if !errors.Is(err, ErrNotARoot) {
					db.Close()
					t.Fatalf("OpenReadOnly: %v, want ErrNotARoot", err)
				}
			}
		})
	}
	// Nothing was left in directories that are not roots.
	for _, d := range []string{empty, full} {
		if _, err := os.Stat(filepath.Join(d, lockName)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: lock file made in a directory that is not a root", d)
		}
		if _, err := os.Stat(filepath.Join(d, dbName)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: state.db made in a directory that is not a root", d)
		}
	}
	// An empty directory may become a root.
	db, err := Open(empty, true)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
}

func TestSchemaTooNew(t *testing.T) {
	root, db := newRoot(t)
	mustClose(t, db)
	rawUpdate(t, root, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keySchema), []byte("99"))
	})
	if _, err := Open(root, false); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open: %v, want ErrSchemaTooNew", err)
	}
	if _, err := OpenReadOnly(root); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("OpenReadOnly: %v, want ErrSchemaTooNew", err)
	}
	// The failed opens released the lock.
	rawUpdate(t, root, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keySchema), []byte("1"))
	})
	db, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	root, db := newRoot(t)
	if err := db.AddTrust("k", []byte("pub")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)

	ro, err := OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	keys, err := ro.Trust()
	if err != nil || string(keys["k"]) != "pub" {
		t.Fatalf("Trust = %q, %v", keys, err)
	}
	// Two readers at once are fine.
	ro2, err := OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, ro2)

	writes := map[string]error{
		"AddTrust":   ro.AddTrust("x", []byte("y")),
		"SetMark":    ro.SetMark("x", []byte("y")),
		"Audit":      ro.Audit("x", nil),
		"PutRelease": ro.PutRelease(Release{Version: "1.0.0", Status: StatusActive}),
	}
	_, err = ro.BeginTxn("install", "1.0.0", "")
	writes["BeginTxn"] = err
	for name, err := range writes {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: %v, want ErrReadOnly", name, err)
		}
	}
}
