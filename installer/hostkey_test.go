package installer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ferry/config/sealed"
	"ferry/installer/state"
)

// TestFirstInstallMakesHostKey: the first install makes the host key
// (0600, in a 0700 keys/), audited with its public key; an update keeps it
// as it is. A first install onto a root whose keys/ someone planted open
// to others is refused before anything is installed.
func TestFirstInstallMakesHostKey(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatal(err)
	}
	k, err := sealed.OpenKey(root)
	if err != nil {
		t.Fatalf("after the first install: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "keys")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("keys/: %v %v", fi, err)
	}
	first, _ := os.ReadFile(sealed.KeyFile(root))
	if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(sealed.KeyFile(root)); !bytes.Equal(first, again) {
		t.Error("the update changed the host key")
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := db.AuditLog()
	db.Close()
	n := 0
	for _, e := range log {
		if e.Event == "hostkey.created" {
			n++
			if e.Fields["recipient"] != k.Recipient() {
				t.Errorf("audited recipient %q, key %q", e.Fields["recipient"], k.Recipient())
			}
		}
	}
	if n != 1 {
		t.Errorf("%d hostkey.created entries, want 1", n)
	}

	// A first install refused for want of trust made the state; keys/ is
	// planted open to all before the next one.
	planted := filepath.Join(dir, "planted")
	if _, err := Install(context.Background(), b1.path, Options{Root: planted}); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("no trust: got %v", err)
	}
	if err := os.Mkdir(filepath.Join(planted, "keys"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(planted, "keys"), 0o777); err != nil {
		t.Fatal(err)
	}
	_, err = Install(context.Background(), b1.path, Options{Root: planted, Keys: [][]byte{b1.pub}})
	if !errors.Is(err, sealed.ErrKeyUnsafe) {
		t.Fatalf("keys/ open to all: got %v, want ErrKeyUnsafe", err)
	}
	if _, err := os.Lstat(filepath.Join(planted, "releases", "1.0.0")); err == nil {
		t.Error("the release was placed although the host key is unsafe")
	}
}
