package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"ferry/installer/state"
)

// The fixtures project keeps etc/api.conf the same from one version to the
// next and changes bin/api.
const (
	keptFile    = "etc/api.conf"
	changedFile = "bin/api"
	sharedStep  = "api/" + StepFile + ":" + keptFile
)

// installLogged installs path at root and returns how its files were
// placed, from the install's log: counts by SharedReflink, SharedLink and
// SharedCopy.
func installLogged(t *testing.T, root, path string, opts Options) map[string]int {
	t.Helper()
	var logs bytes.Buffer
	opts.Root = root
	opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := Install(context.Background(), path, opts); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`msg="files placed" reflink=(\d+) link=(\d+) copy=(\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no placement counts in the log:\n%s", logs.String())
	}
	var n [3]int
	for i := range n {
		if _, err := fmt.Sscan(m[i+1], &n[i]); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]int{SharedReflink: n[0], SharedLink: n[1], SharedCopy: n[2]}
}

// sharingMode is how this host's file system lets the test root share
// files: SharedReflink where it clones, else SharedLink (the tests run as
// root), else SharedCopy.
func sharingMode(t *testing.T, dir string) string {
	t.Helper()
	a, err := os.Create(filepath.Join(dir, "probe-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.WriteString("probe"); err != nil {
		t.Fatal(err)
	}
	b, err := os.Create(filepath.Join(dir, "probe-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if cloneFile(b, a) == nil {
		return SharedReflink
	}
	if os.Geteuid() == 0 {
		return SharedLink
	}
	return SharedCopy
}

func inode(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

// checkDrift runs ferry check and returns its findings as
// "release path kind" lines.
func checkDrift(t *testing.T, root string) []string {
	t.Helper()
	drift, err := Check(context.Background(), root)
	if err != nil && !errors.Is(err, ErrDrift) {
		t.Fatal(err)
	}
	var out []string
	for _, d := range drift {
		out = append(out, d.Release+" "+d.Path+" "+d.Kind)
	}
	return out
}

// TestUpdateSharesUnchangedFiles: an update that changes one file of a
// release places the other by sharing it with the release it updates —
// the same inode (hard link) on a file system without reflinks, a clone
// of the store's blob where the file system clones — and copies only the
// changed one. Rollback to the older release, retention and gc after it
// leave every kept release whole, as `ferry check` and the content say.
func TestUpdateSharesUnchangedFiles(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	b3 := buildBundle(t, dir, "1.2.0", key)
	mode := sharingMode(t, dir)
	t.Logf("sharing mode exercised: %s", mode)

	installLogged(t, root, b1.path, Options{Keys: [][]byte{b1.pub}})
	placed := installLogged(t, root, b2.path, Options{})
	checkInstalled(t, root, b2.res.Manifest)
	old := filepath.Join(root, "releases", "1.0.0", keptFile)
	cur := filepath.Join(root, "releases", "1.1.0", keptFile)
	switch mode {
	case SharedLink:
		// The changed file is new content: nothing to link it to.
		if placed[SharedLink] != 1 || placed[SharedCopy] != 1 {
			t.Fatalf("placed %v, want %s linked and %s copied", placed, keptFile, changedFile)
		}
		if a, b := inode(t, old), inode(t, cur); a.Ino != b.Ino || a.Dev != b.Dev || b.Nlink != 2 {
			t.Fatalf("%s: inodes %d and %d (%d links), want one inode with 2 links", keptFile, a.Ino, b.Ino, b.Nlink)
		}
		if a, b := inode(t, filepath.Join(root, "releases", "1.0.0", changedFile)), inode(t, filepath.Join(root, "releases", "1.1.0", changedFile)); a.Ino == b.Ino {
			t.Fatalf("%s changed, and both releases hold inode %d", changedFile, a.Ino)
		}
	case SharedReflink:
		if placed[SharedReflink] != 2 {
			t.Fatalf("placed %v, want both files cloned", placed)
		}
		if inode(t, old).Ino == inode(t, cur).Ino {
			t.Fatal("a clone shares the inode")
		}
	default:
		t.Skipf("this host shares nothing (placed %v)", placed)
	}
	if d := checkDrift(t, root); len(d) != 0 {
		t.Fatalf("check after a shared update: %v", d)
	}

	// Rollback after a shared update.
	if _, err := Rollback(context.Background(), root, RollbackOptions{To: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, root, b1.res.Manifest)
	if d := checkDrift(t, root); len(d) != 0 {
		t.Fatalf("check after rollback: %v", d)
	}
	if _, err := Rollback(context.Background(), root, RollbackOptions{To: "1.1.0"}); err != nil {
		t.Fatal(err)
	}

	// Retention removes the releases 1.2.0 shares with, gc their blobs:
	// the removal of one name leaves the file of the kept release.
	placed = installLogged(t, root, b3.path, Options{Keep: 1})
	if mode == SharedLink && placed[SharedLink] != 1 {
		t.Fatalf("placed %v, want %s linked", placed, keptFile)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if _, err := os.Stat(filepath.Join(root, "releases", v)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("release %s is still there: %v", v, err)
		}
	}
	res, err := GC(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) == 0 {
		t.Fatalf("gc removed nothing: %+v", res)
	}
	checkInstalled(t, root, b3.res.Manifest)
	if d := checkDrift(t, root); len(d) != 0 {
		t.Fatalf("check after retention and gc: %v", d)
	}
	if mode == SharedLink {
		if n := inode(t, filepath.Join(root, "releases", "1.2.0", keptFile)).Nlink; n != 1 {
			t.Fatalf("%s has %d links with one release left", keptFile, n)
		}
	}
}

// TestCheckFindsTamperedSharedFile: a shared file edited in one release is
// reported by `ferry check` in every release whose copy changed — with a
// hard link, that is every release that shares it, and the edit cannot
// hide in a release nobody looks at.
func TestCheckFindsTamperedSharedFile(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	mode := sharingMode(t, dir)
	t.Logf("sharing mode exercised: %s", mode)
	installLogged(t, root, b1.path, Options{Keys: [][]byte{b1.pub}})
	installLogged(t, root, b2.path, Options{})

	// Root ignores the file's mode; a service could not open it for
	// writing.
	f, err := os.OpenFile(filepath.Join(root, "releases", "1.1.0", keptFile), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("tampered"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := []string{"1.1.0 " + keptFile + " changed"}
	if mode == SharedLink {
		want = []string{"1.0.0 " + keptFile + " changed", "1.1.0 " + keptFile + " changed"}
	}
	if got := checkDrift(t, root); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("check found %q, want %q", got, want)
	}
}

// TestShareFallsBackToCopy: a release directory on another file system
// (a tmpfs mounted there) can neither clone the store's blobs nor link
// the kept release's files: every file is copied, and the update is
// whole.
func TestShareFallsBackToCopy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	installLogged(t, root, b1.path, Options{Keys: [][]byte{b1.pub}})
	mnt := filepath.Join(root, "releases", "1.1.0")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	placed := installLogged(t, root, b2.path, Options{})
	if placed[SharedCopy] != 2 || placed[SharedLink]+placed[SharedReflink] != 0 {
		t.Fatalf("placed %v across file systems, want both files copied", placed)
	}
	checkInstalled(t, root, b2.res.Manifest)
	if d := checkDrift(t, root); len(d) != 0 {
		t.Fatalf("check: %v", d)
	}
}

// TestLinkFileRefuses: a kept release's file that is not what a release
// file must be — writable by group or others, owned by another user, of
// another size or mode — is not linked; the caller copies.
func TestLinkFileRefuses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the ownership cases need root")
	}
	dir := t.TempDir()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		prep  func(string) error
		mode  fs.FileMode
		size  int64
		share bool
	}{
		{"read-only, root's", func(string) error { return nil }, 0o444, 5, true},
		{"group-writable", func(p string) error { return os.Chmod(p, 0o664) }, 0o664, 5, false},
		{"another user's", func(p string) error { return os.Chown(p, 65534, 65534) }, 0o444, 5, false},
		{"other mode", func(string) error { return nil }, 0o555, 5, false},
		{"other size", func(string) error { return nil }, 0o444, 6, false},
		{"a symlink", func(p string) error { os.Remove(p); return os.Symlink("x", p) }, 0o444, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			src := filepath.Join(dir, "old", name)
			if err := os.WriteFile(src, []byte("hello"), 0o444); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(src, 0o444); err != nil {
				t.Fatal(err)
			}
			if err := tc.prep(src); err != nil {
				t.Fatal(err)
			}
			ok, err := linkFile(r, "old/"+name, "new/"+name, tc.mode, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.share {
				t.Fatalf("linked %v, want %v", ok, tc.share)
			}
			_, err = os.Lstat(filepath.Join(dir, "new", name))
			if tc.share != (err == nil) {
				t.Fatalf("new file: %v", err)
			}
			// Run again, as after a crash: the same, and no temporary
			// name left.
			if ok2, err := linkFile(r, "old/"+name, "new/"+name, tc.mode, tc.size); err != nil || ok2 != tc.share {
				t.Fatalf("again: %v, %v", ok2, err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "new", ".ferry-tmp*")); len(left) > 0 {
				t.Fatalf("left %v", left)
			}
		})
	}
}

// TestLinkSafe: hard links are refused where a service could write a
// release file: ferry not root (services run as ferry), or a service
// that runs as root.
func TestLinkSafe(t *testing.T) {
	rootHost := host{root: true, uid: 0}
	for _, tc := range []struct {
		h     host
		users []string
		want  bool
	}{
		{rootHost, nil, true},
		{rootHost, []string{"", "nobody"}, true},
		{rootHost, []string{"nobody", "root"}, false},
		{rootHost, []string{"no-such-user-here"}, false},
		{host{root: false, uid: 1000}, nil, false},
	} {
		if got := linkSafe(tc.h, tc.users); got != tc.want {
			t.Errorf("linkSafe(%+v, %q) = %v, want %v", tc.h, tc.users, got, tc.want)
		}
	}
}

// TestCrashAfterShare kills an update at every crash point, among them
// the one right after a shared file is in place and before its step is
// journalled done; recovery rolls the update back without touching the
// file the kept release shares, and installing again shares it anew.
func TestCrashAfterShare(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	mode := sharingMode(t, dir)
	if mode == SharedCopy {
		t.Skip("this host shares nothing")
	}
	t.Logf("sharing mode exercised: %s", mode)
	hit := false
	for k := 1; k < 100; k++ {
		root := filepath.Join(dir, fmt.Sprintf("root-%d", k))
		if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
			t.Fatal(err)
		}
		if !installInChild(t, root, b2.path, k, 0, nil) {
			break
		}
		if sharedNotJournalled(t, root) {
			hit = true
		}
		crashAndRecover(t, root)
		if d := checkDrift(t, root); len(d) != 0 {
			t.Fatalf("crash at point %d, recovered: check found %v", k, d)
		}
		if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
			t.Fatalf("crash at point %d, then install: %v", k, err)
		}
		checkInstalled(t, root, b2.res.Manifest)
		if d := checkDrift(t, root); len(d) != 0 {
			t.Fatalf("crash at point %d, then install: check found %v", k, d)
		}
		if mode == SharedLink && inode(t, filepath.Join(root, "releases", "1.0.0", keptFile)).Ino != inode(t, filepath.Join(root, "releases", "1.1.0", keptFile)).Ino {
			t.Fatalf("crash at point %d, then install: %s not shared", k, keptFile)
		}
		os.RemoveAll(root)
	}
	if !hit {
		t.Fatal("no crash point fell between the shared file's placement and its journal record")
	}
}

// sharedNotJournalled says whether a killed update left the shared file
// in place in its release and its step started but not done.
func sharedNotJournalled(t *testing.T, root string) bool {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(root, "releases", "1.1.0", keptFile)); err != nil {
		return false
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	txn, open, err := db.OpenTxn()
	if err != nil || !open {
		return false
	}
	steps, err := db.Steps(txn.ID)
	if err != nil {
		t.Fatal(err)
	}
	phase := ""
	for _, s := range steps {
		if s.Name == sharedStep {
			phase = s.Phase
		}
	}
	return phase == "started"
}
