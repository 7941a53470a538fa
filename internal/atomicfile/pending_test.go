package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ferry/internal/testenv"
)

// TestPending runs each sequence of Write, Commit and Abort on a pending
// file for a path that is absent or holds old content, and checks what is
// under the final name afterwards, and that no temporary file is left.
func TestPending(t *testing.T) {
	type op int
	const (
		write op = iota
		commit
		abort
	)
	for _, tc := range []struct {
		name string
		old  bool // the final name holds "old" before
		ops  []op
		errs []error // per op: nil, or the error it must wrap
		want string  // content under the final name; "" for absent
	}{
		{name: "commit new", ops: []op{write, commit}, errs: []error{nil, nil}, want: "new"},
		{name: "commit replaces", old: true, ops: []op{write, commit}, errs: []error{nil, nil}, want: "new"},
		{name: "commit empty", ops: []op{commit}, errs: []error{nil}, want: "\x00"},
		{name: "abort new", ops: []op{write, abort}, errs: []error{nil, nil}},
		{name: "abort keeps old", old: true, ops: []op{write, abort}, errs: []error{nil, nil}, want: "old"},
		{name: "abort after commit", old: true, ops: []op{write, commit, abort}, errs: []error{nil, nil, nil}, want: "new"},
		{name: "abort twice", ops: []op{write, abort, abort}, errs: []error{nil, nil, nil}},
		{name: "commit twice", ops: []op{write, commit, commit}, errs: []error{nil, nil, ErrDone}, want: "new"},
		{name: "commit after abort", old: true, ops: []op{write, abort, commit}, errs: []error{nil, nil, ErrDone}, want: "old"},
		{name: "write after commit", ops: []op{write, commit, write}, errs: []error{nil, nil, ErrDone}, want: "new"},
		{name: "write after abort", ops: []op{abort, write}, errs: []error{nil, ErrDone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.old {
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p, err := Create(path, 0o640)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range tc.ops {
				switch o {
				case write:
					_, err = p.Write([]byte("new"))
				case commit:
					err = p.Commit()
				case abort:
					p.Abort()
					err = nil
				}
				if want := tc.errs[i]; (want == nil) != (err == nil) || want != nil && !errors.Is(err, want) {
					t.Fatalf("op %d: got %v, want %v", i, err, want)
				}
			}
			got, err := os.ReadFile(path)
			switch {
			case tc.want == "":
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("final name: %q, %v; want absent", got, err)
				}
			case tc.want == "\x00":
				if err != nil || len(got) != 0 {
					t.Errorf("final name: %q, %v; want empty", got, err)
				}
			case err != nil || string(got) != tc.want:
				t.Errorf("final name: %q, %v; want %q", got, err, tc.want)
			}
			if tc.want == "new" || tc.want == "\x00" {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
					t.Errorf("mode: %v %v", fi, err)
				}
			}
			assertOnly(t, dir, tc.want != "")
		})
	}
}

// TestPendingNeverPartial writes a file in pieces over old content and
// checks after every piece that the final name holds the whole old
// content, and after Commit the whole new one.
func TestPendingNeverPartial(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	old := bytes.Repeat([]byte("o"), 1<<16)
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Create(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	piece := bytes.Repeat([]byte("n"), 4096)
	for i := range 64 {
		if _, err := p.Write(piece); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("after piece %d the final name holds %d bytes (%v), not the old content", i, len(got), err)
		}
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, bytes.Repeat(piece, 64)) {
		t.Fatalf("after Commit the final name holds %d bytes (%v)", len(got), err)
	}
	assertOnly(t, dir, true)
}

// TestPendingAbortAfterFailedWrite fills a small file system: the write
// fails (ENOSPC), and Abort leaves nothing, neither the final name nor the
// temporary file.
func TestPendingAbortAfterFailedWrite(t *testing.T) {
	testenv.Root(t, "mounting a small tmpfs")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.SkipOrFailf(t, "cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	path := filepath.Join(dir, "f")
	p, err := Create(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Write(make([]byte, 1<<20))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write 1 MiB into 64 KiB: got %v, want ENOSPC", err)
	}
	p.Abort()
	assertOnly(t, dir, false)
	// The same through Write: the error names the final path.
	err = Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(make([]byte, 1<<20)); return err })
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Write 1 MiB into 64 KiB: got %v", err)
	}
	assertOnly(t, dir, false)
}

// TestCreateBeneathRefusesLinks: a pending file beneath a root is refused
// where a directory on the way is a symlink, and nothing is created.
func TestCreateBeneathRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"out/x", "out/sub/x"} {
		if p, err := CreateBeneath(root, name, 0o644); !errors.Is(err, ErrLinkInPath) {
			if err == nil {
				p.Abort()
			}
			t.Errorf("%s: got %v, want %v", name, err, ErrLinkInPath)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("outside holds %v", entries)
	}
	p, err := CreateBeneath(root, "a/b/f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(p.Name()), TempPrefix) || filepath.Dir(p.Name()) != filepath.Join(dir, "a", "b") {
		t.Errorf("pending file %s: want %s* in %s", p.Name(), TempPrefix, filepath.Join(dir, "a", "b"))
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	assertOnly(t, filepath.Join(dir, "a", "b"), true)
}

// assertOnly checks that dir holds no temporary file, and holds the final
// file f exactly when want.
func assertOnly(t *testing.T, dir string, want bool) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != "lost+found" {
			names = append(names, e.Name())
		}
	}
	if want && (len(names) != 1 || names[0] != "f") || !want && len(names) != 0 {
		t.Errorf("%s holds %v", dir, names)
	}
}
