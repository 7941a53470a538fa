package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteBeneath(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	write := func(name string) error {
		return WriteBeneath(root, name, 0o640, func(w io.Writer) error {
			_, err := io.WriteString(w, "new")
			return err
		})
	}
	if err := write("a/b/c"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a", "b", "c")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("a/b/c: %v %v", fi, err)
	}
	// A symlinked directory on the way is refused, wherever it leads.
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "in")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"out/x", "in/b/x", "a/b/c/x"} {
		if err := write(name); !errors.Is(err, ErrLinkInPath) {
			t.Errorf("%s: got %v, want %v", name, err, ErrLinkInPath)
		}
	}
	// A symlink at the name itself is replaced, not followed.
	target := filepath.Join(outside, "target")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "a", "link")); err != nil {
		t.Fatal(err)
	}
	if err := write("a/link"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "old" {
		t.Errorf("the write went through the link: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "a", "link")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("a/link is not the new file: %v %v", fi, err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("outside holds %d entries", len(entries))
	}
}

// TestOpenExistingDirBeneath: the existing-only walk opens what is there,
// makes nothing that is missing, and refuses a symlink or a file on the
// way as the creating walk does.
func TestOpenExistingDirBeneath(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	d, err := OpenExistingDirBeneath(root, "a/b")
	if err != nil {
		t.Fatalf("existing a/b: %v", err)
	}
	d.Close()
	if _, err := OpenExistingDirBeneath(root, "a/missing/c"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing a/missing/c: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "a", "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the existing-only walk made a/missing: %v", err)
	}
	for _, bad := range []string{"link", "link/x", "a/file"} {
		if _, err := OpenExistingDirBeneath(root, bad); !errors.Is(err, ErrLinkInPath) {
			t.Errorf("%s: %v, want ErrLinkInPath", bad, err)
		}
	}
	if d, err := OpenDirBeneath(root, "a/missing/c"); err != nil {
		t.Errorf("creating walk: %v", err)
	} else {
		d.Close()
	}
}
