package bundle_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle"
)

// TestDamagedInstaller cuts an installer made of a real executable (this
// test's own binary) short, and appends bytes to it: every such file is
// refused as a damaged installer, naming the damage, not as a plain
// executable without a payload. A plain executable, with or without other
// bytes after it, is still not an installer.
func TestDamagedInstaller(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	key := newReleaseKey(t)
	path, res := writeInstaller(t, exe, [][]byte{key.pub}, signedBundle(t, key))
	inst, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(inst))
	dir := t.TempDir()
	open := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		a, err := bundle.OpenArchive(p)
		if err == nil {
			a.Close()
		}
		return err
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"cut 1", inst[:n-1], "cut short by 1 bytes"},
		{"cut 100", inst[:n-100], "ends 44 bytes into its 144-byte trailer"},
		{"cut trailer", inst[:n-bundle.TrailerSize], "does not end with the 144-byte installer trailer"},
		{"cut into bundle", inst[:res.BundleOffset+res.BundleLength/2], "it was cut short"},
		{"cut into keys", inst[:res.KeysOffset+3], "it was cut short"},
		{"appended 1", append(bytes.Clone(inst), 0), "1 bytes were appended after its trailer"},
		{"appended 1 MiB", append(bytes.Clone(inst), make([]byte, 1<<20)...), "1048576 bytes were appended"},
	} {
		err := open(c.name, c.data)
		if !errors.Is(err, bundle.ErrDamagedInstaller) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %v naming %q", c.name, err, bundle.ErrDamagedInstaller, c.want)
		}
		if _, err := bundle.OpenExecutable(filepath.Join(dir, c.name)); !errors.Is(err, bundle.ErrDamagedInstaller) {
			t.Errorf("%s: OpenExecutable: got %v, want %v", c.name, err, bundle.ErrDamagedInstaller)
		}
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"plain", exe},
		{"plain with junk", append(bytes.Clone(exe), "junk"...)},
	} {
		if err := open(c.name, c.data); !errors.Is(err, bundle.ErrNotInstaller) {
			t.Errorf("%s: got %v, want %v", c.name, err, bundle.ErrNotInstaller)
		}
	}
}
