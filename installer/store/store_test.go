package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testenv"
)

// newStore creates an empty store in a fresh temporary directory.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"), true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// putBytes stores b and returns its digest.
func putBytes(t *testing.T, s *Store, b []byte) string {
	t.Helper()
	d := digestOf(b)
	if _, err := s.Put(d, int64(len(b)), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return d
}

// tempFiles lists the temporary files in the layout.
func tempFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var found []string
	for _, dir := range []string{s.Dir(), s.blobDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if isTempName(e.Name()) {
				found = append(found, filepath.Join(dir, e.Name()))
			}
		}
	}
	return found
}

func assertNoTemps(t *testing.T, s *Store) {
	t.Helper()
	if left := tempFiles(t, s); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// mountTmpfs mounts a tmpfs with the given options on a fresh directory,
// unmounted when the test ends. It skips the test (fails it under CI)
// where mounting is not permitted.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	testenv.Root(t, "mounting a tmpfs")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.SkipOrFailf(t, "cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func TestOpenCreatesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "store")
	if _, err := Open(dir, false); !errors.Is(err, ErrNotLayout) {
		t.Fatalf("Open of a missing dir without create: got %v, want ErrNotLayout", err)
	}
	s, err := Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", s.Dir(), dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil || string(b) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q, %v", b, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || !strings.Contains(string(b), `"manifests":[]`) {
		t.Errorf("index.json = %s, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "blobs", "sha256")); err != nil || !fi.IsDir() {
		t.Errorf("blobs/sha256: %v", err)
	}
	for _, create := range []bool{false, true} {
		if _, err := Open(dir, create); err != nil {
			t.Errorf("reopen (create=%v): %v", create, err)
		}
	}
	assertNoTemps(t, s)
}

func TestOpenRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, create := range []bool{false, true} {
		if _, err := Open(dir, create); !errors.Is(err, ErrNotLayout) {
			t.Errorf("Open(create=%v) of a non-empty non-layout dir: got %v, want ErrNotLayout", create, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err == nil {
		t.Error("Open wrote an oci-layout into a foreign directory")
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "oci-layout"), []byte(`{"imageLayoutVersion":"2.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(other, true); !errors.Is(err, ErrNotLayout) {
		t.Errorf("Open of a layout of another version: got %v, want ErrNotLayout", err)
	}
}

func TestOpenCompletesInterruptedCreation(t *testing.T) {
	// A crash during creation leaves blobs/ and perhaps index.json, but no
	// oci-layout, which is written last.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, false); !errors.Is(err, ErrNotLayout) {
		t.Fatalf("reader opened a half-created layout: %v", err)
	}
	s, err := Open(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if refs, err := s.Refs(); err != nil || len(refs) != 0 {
		t.Errorf("Refs() = %v, %v; want none", refs, err)
	}
}

func TestDigestValidation(t *testing.T) {
	s := newStore(t)
	hex64 := strings.Repeat("ab", 32)
	bad := []string{
		"",
		"sha256:",
		hex64,
		"sha256:" + hex64[:63],
		"sha256:" + hex64 + "0",
		"sha256:" + strings.ToUpper(hex64),
		"sha512:" + hex64,
		"SHA256:" + hex64,
		"sha256:../../../../etc/passwd" + hex64[:42],
		"sha256:" + hex64[:62] + "/x",
		"sha256:" + hex64[:63] + "\x00",
		"sha256:" + hex64[:63] + "g",
	}
	for _, d := range bad {
		if _, err := s.Path(d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Path(%q): got %v, want ErrInvalidDigest", d, err)
		}
		if _, err := s.Has(d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Has(%q): got %v, want ErrInvalidDigest", d, err)
		}
		if _, err := s.Open(d); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Open(%q): got %v, want ErrInvalidDigest", d, err)
		}
		if _, err := s.Put(d, 0, strings.NewReader("")); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("Put(%q): got %v, want ErrInvalidDigest", d, err)
		}
	}
	p, err := s.Path("sha256:" + hex64)
	if err != nil || p != filepath.Join(s.Dir(), "blobs", "sha256", hex64) {
		t.Errorf("Path = %q, %v", p, err)
	}
}

func TestOpenBlobNotFound(t *testing.T) {
	s := newStore(t)
	d := digestOf([]byte("absent"))
	if ok, err := s.Has(d); ok || err != nil {
		t.Errorf("Has = %v, %v; want false, nil", ok, err)
	}
	_, err := s.Open(d)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), d) {
		t.Errorf("Open: got %v, want ErrNotFound naming %s", err, d)
	}
}

func TestCrashLeftoversRemovedOnOpen(t *testing.T) {
	s := newStore(t)
	content := []byte("a blob whose write was cut short by a crash")
	d := digestOf(content)
	// What a writer killed before its rename leaves: complete content
	// under a temporary name, in blobs/sha256/ and beside index.json.
	for _, p := range []string{
		filepath.Join(s.blobDir(), tempPrefix+"CRASHED1"),
		filepath.Join(s.Dir(), tempPrefix+"CRASHED2"),
		filepath.Join(s.blobDir(), oldTempPrefix+"CRASHED3"), // an older ferry's
	} {
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(s.Dir(), false)
	if err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, s2)
	if ok, err := s2.Has(d); ok || err != nil {
		t.Errorf("Has(%s) = %v, %v; a leftover must never become a blob", d, ok, err)
	}
	if _, err := s2.Open(d); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(%s): got %v, want ErrNotFound", d, err)
	}
}

func TestOpenSparesTempFilesBeingWritten(t *testing.T) {
	s := newStore(t)
	// A temporary file a live writer holds, as Put does while streaming.
	f, err := createTemp(s.blobDir(), "blob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.Dir(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Name()); err != nil {
		t.Fatalf("Open removed a temporary file still being written: %v", err)
	}
	if _, _, err := s.GC(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Name()); err != nil {
		t.Fatalf("GC removed a temporary file still being written: %v", err)
	}
	// Once its writer is gone (closed, or killed: the kernel drops the
	// lock either way) it is a leftover.
	f.File().Close()
	if _, err := Open(s.Dir(), false); err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, s)
}

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
