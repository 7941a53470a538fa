package atomicfile

import (
	"errors"
	"io"
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
