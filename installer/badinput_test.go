package installer

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ferry/installer/state"
	"ferry/internal/testenv"
)

// mountTmpfs mounts a small tmpfs at dir for the test, or skips (fails
// under CI) when this process may not mount.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	testenv.Root(t, "mounting a tmpfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.SkipOrFailf(t, "cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
}

func TestInstallDiskFull(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "small")
	mountTmpfs(t, root, "1m") // the first release takes about 300 KiB, the second more than 3 MiB
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	big := buildBigBundle(t, dir, "1.1.0", key)
	// The first release fits: a failure here is a failure, not a skip,
	// or the test would pass without ever filling the disk.
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatalf("the first release, on a file system with room for it: %v", err)
	}
	_, err := Install(context.Background(), big.path, Options{Root: root})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	// Nothing lost: 1.0.0 is whole and current, nothing is half-open.
	checkInstalled(t, root, b1.res.Manifest)
}

// buildBigBundle is a bundle whose files do not fit a small file system.
func buildBigBundle(t *testing.T, dir, version string, key any) testBundle {
	t.Helper()
	return buildBundleSize(t, dir, version, key, 2<<20)
}

func TestInstallReadOnlyRoot(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "ro")
	mountTmpfs(t, root, "8m")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	b2 := buildBundle(t, dir, "1.1.0", newKey(t))
	if out, err := exec.Command("mount", "-o", "remount,ro", root).CombinedOutput(); err != nil {
		testenv.SkipOrFailf(t, "cannot remount read-only: %v: %s", err, out)
	}
	_, err := Install(context.Background(), b2.path, Options{Root: root, Keys: [][]byte{b2.pub}})
	if !errors.Is(err, syscall.EROFS) {
		t.Fatalf("got %v, want EROFS", err)
	}
	if out, err := exec.Command("mount", "-o", "remount,rw", root).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	checkInstalled(t, root, b.res.Manifest)
}

func TestInstallOtherPlatform(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	_, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}, Platform: "linux/riscv64"})
	if !errors.Is(err, ErrPlatform) {
		t.Fatalf("got %v, want %v", err, ErrPlatform)
	}
	if _, err := os.Stat(filepath.Join(root, "releases")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused bundle left a releases directory")
	}
}

func TestInstallCorruptState(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(root, "state.db")
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < 4096+64 && i < len(data); i++ {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(context.Background(), b.path, Options{Root: root}); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("got %v, want %v", err, state.ErrCorrupt)
	}
	after, _ := os.ReadFile(db)
	if string(after) != string(data) {
		t.Fatal("a corrupted state.db was changed")
	}
}

func TestInstallNotARoot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "unrelated.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := buildBundle(t, t.TempDir(), "1.0.0", newKey(t))
	if _, err := Install(context.Background(), b.path, Options{Root: dir, Keys: [][]byte{b.pub}}); !errors.Is(err, state.ErrNotARoot) {
		t.Fatalf("got %v, want %v", err, state.ErrNotARoot)
	}
}

// TestInstallPermissionDenied runs the installer as an unprivileged user
// against a root it may not write: a clear error (the root belongs to
// another user), and nothing changes.
func TestInstallPermissionDenied(t *testing.T) {
	if os.Getenv("FERRY_DENIED_CHILD") == "1" {
		_, err := Install(context.Background(), os.Getenv("FERRY_CHILD_BUNDLE"), Options{Root: os.Getenv("FERRY_CHILD_ROOT")})
		if errors.Is(err, state.ErrUnsafeRoot) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			os.Exit(3)
		}
		t.Fatalf("got %v, want permission denied", err)
	}
	testenv.Root(t, "running a child as another user")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	b2 := buildBundle(t, dir, "1.1.0", newKey(t))
	// The child needs to reach its own binary and the bundle.
	pub, err := os.MkdirTemp("", "ferry-denied-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(pub) })
	must(t, os.Chmod(pub, 0o755))
	exe := filepath.Join(pub, "installer.test")
	data, err := os.ReadFile(os.Args[0])
	must(t, err)
	must(t, os.WriteFile(exe, data, 0o755))
	bundleCopy := filepath.Join(pub, "app.ferry")
	data, err = os.ReadFile(b2.path)
	must(t, err)
	must(t, os.WriteFile(bundleCopy, data, 0o644))
	must(t, os.Chmod(dir, 0o755))

	cmd := exec.Command(exe, "-test.run=^TestInstallPermissionDenied$")
	cmd.Env = append(os.Environ(), "FERRY_DENIED_CHILD=1", "FERRY_CHILD_ROOT="+root, "FERRY_CHILD_BUNDLE="+bundleCopy, "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child: %v\n%s", err, out)
	}
	checkInstalled(t, root, b.res.Manifest)
}

// TestBundleSwappedDuringInstall: the install's transaction reads the
// bundle file again; a file that is by then another bundle (signed too)
// is refused before anything of it is placed.
func TestBundleSwappedDuringInstall(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	b1, b2 := buildBundle(t, dir, "1.0.0", key), buildBundle(t, dir, "1.1.0", key)
	root := filepath.Join(dir, "root")
	db, err := state.Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	txn, err := db.BeginTxn("install", "1.0.0", b1.res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{db: db, txn: txn}
	_, err = r.install(context.Background(), b2.path, trustOf(t, b2.pub), nil, Options{Root: root}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "changed while it was being installed") {
		t.Fatalf("got %v, want the bundle refused as changed", err)
	}
	if rels, _ := db.Releases(); len(rels) != 0 {
		t.Fatalf("releases recorded: %+v", rels)
	}
}
