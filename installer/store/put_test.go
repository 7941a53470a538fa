package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"ferry/internal/testenv"
)

// countingReader is an endless stream that counts what is read from it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n += int64(len(p))
	return len(p), nil
}

// failReader fails the test if it is read at all.
type failReader struct{ t *testing.T }

func (f failReader) Read(p []byte) (int, error) {
	f.t.Error("Put read the stream of a blob already stored")
	return 0, io.EOF
}

func TestPutFresh(t *testing.T) {
	s := newStore(t)
	content := randomBytes(t, 100_000)
	d := digestOf(content)
	written, err := s.Put(d, int64(len(content)), bytes.NewReader(content))
	if err != nil || !written {
		t.Fatalf("Put = %v, %v; want true, nil", written, err)
	}
	if ok, err := s.Has(d); !ok || err != nil {
		t.Errorf("Has = %v, %v", ok, err)
	}
	f, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("stored content differs (%d bytes, %v)", len(got), err)
	}
	fi, err := os.Stat(f.Name())
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("blob mode = %v, %v; want 0644", fi.Mode(), err)
	}
	assertNoTemps(t, s)
}

func TestPutEmptyBlob(t *testing.T) {
	s := newStore(t)
	d := digestOf(nil)
	if written, err := s.Put(d, 0, strings.NewReader("")); err != nil || !written {
		t.Fatalf("Put = %v, %v", written, err)
	}
	if written, err := s.Put(d, 0, failReader{t}); err != nil || written {
		t.Fatalf("second Put = %v, %v; want false, nil", written, err)
	}
}

func TestPutExistingDoesNotRead(t *testing.T) {
	s := newStore(t)
	d := putBytes(t, s, []byte("hello"))
	written, err := s.Put(d, 5, failReader{t})
	if err != nil || written {
		t.Errorf("Put of a stored blob = %v, %v; want false, nil", written, err)
	}
}

func TestPutRepairsDamagedBlob(t *testing.T) {
	s := newStore(t)
	content := []byte("the whole content of a blob")
	d := putBytes(t, s, content)
	p, _ := s.Path(d)
	if err := os.Truncate(p, 3); err != nil {
		t.Fatal(err)
	}
	written, err := s.Put(d, int64(len(content)), bytes.NewReader(content))
	if err != nil || !written {
		t.Fatalf("Put over a truncated blob = %v, %v; want true, nil", written, err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Errorf("blob not repaired: %q", got)
	}
}

func TestPutRefusesBadContent(t *testing.T) {
	content := []byte("the content that was signed")
	d := digestOf(content)
	size := int64(len(content))
	tests := []struct {
		name string
		size int64
		r    io.Reader
		want error
	}{
		{"digest mismatch", size, strings.NewReader("the content that was forged"), ErrDigestMismatch},
		{"short stream", size, bytes.NewReader(content[:10]), ErrSizeMismatch},
		{"size too small", size - 1, bytes.NewReader(content), ErrSizeMismatch},
		{"long stream", size, io.MultiReader(bytes.NewReader(content), strings.NewReader("and more")), ErrSizeMismatch},
		{"negative size", -1, bytes.NewReader(content), ErrSizeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			written, err := s.Put(d, tt.size, tt.r)
			if !errors.Is(err, tt.want) || written {
				t.Fatalf("Put = %v, %v; want false, %v", written, err, tt.want)
			}
			if !strings.Contains(err.Error(), d) {
				t.Errorf("error %q does not name the digest", err)
			}
			if ok, _ := s.Has(d); ok {
				t.Error("refused content was stored")
			}
			assertNoTemps(t, s)
		})
	}
}

func TestPutLongStreamNotReadPastSize(t *testing.T) {
	s := newStore(t)
	const size = 1000
	r := &countingReader{}
	_, err := s.Put(digestOf(bytes.Repeat([]byte("x"), size)), size, r)
	if !errors.Is(err, ErrSizeMismatch) {
		t.Fatalf("Put of an endless stream: got %v, want ErrSizeMismatch", err)
	}
	if r.n > size+1 {
		t.Errorf("read %d bytes of the stream, want at most %d", r.n, size+1)
	}
	assertNoTemps(t, s)
}

func TestPutReadError(t *testing.T) {
	s := newStore(t)
	boom := errors.New("usb stick pulled")
	_, err := s.Put(digestOf([]byte("abc")), 3, io.MultiReader(strings.NewReader("a"), iotestErrReader{boom}))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "read content") {
		t.Errorf("got %v, want the stream's error", err)
	}
	assertNoTemps(t, s)
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestPutConcurrentSameDigest(t *testing.T) {
	s := newStore(t)
	content := randomBytes(t, 256<<10)
	d := digestOf(content)
	var wg sync.WaitGroup
	var wrote atomic.Int32
	for range 32 {
		wg.Go(func() {
			written, err := s.Put(d, int64(len(content)), bytes.NewReader(content))
			if err != nil {
				t.Error(err)
			}
			if written {
				wrote.Add(1)
			}
		})
	}
	wg.Wait()
	if wrote.Load() < 1 {
		t.Error("no Put reported writing the blob")
	}
	p, _ := s.Path(d)
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, content) {
		t.Errorf("stored blob differs: %v", err)
	}
	assertNoTemps(t, s)
}

func TestPutConcurrentDistinct(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			b := fmt.Appendf(nil, "blob %d", i%16) // 16 digests, 4 writers each
			if _, err := s.Put(digestOf(b), int64(len(b)), bytes.NewReader(b)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	drift, err := s.Check(t.Context(), nil, true)
	if err != nil || len(drift) != 16 {
		t.Errorf("Check found %d blobs (%v), want 16", len(drift), err)
	}
	assertNoTemps(t, s)
}

func TestPutReadOnlyStore(t *testing.T) {
	var dir string
	if os.Geteuid() == 0 {
		// Root writes through permission bits; a read-only mount is what
		// stops it.
		dir = mountTmpfs(t, "size=4m")
	} else {
		dir = t.TempDir()
	}
	s, err := Open(filepath.Join(dir, "store"), true)
	if err != nil {
		t.Fatal(err)
	}
	old := putBytes(t, s, []byte("stored before"))
	if os.Geteuid() == 0 {
		if out, err := runCmd("mount", "-o", "remount,ro", dir); err != nil {
			testenv.SkipOrFailf(t, "cannot remount read-only: %v: %s", err, out)
		}
		t.Cleanup(func() {
			if out, err := runCmd("mount", "-o", "remount,rw", dir); err != nil {
				t.Errorf("remount read-write: %v: %s", err, out)
			}
		})
	} else {
		if err := os.Chmod(s.blobDir(), 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := os.Chmod(s.blobDir(), 0o755); err != nil {
				t.Error(err)
			}
		})
	}

	content := []byte("stored after")
	d := digestOf(content)
	_, err = s.Put(d, int64(len(content)), bytes.NewReader(content))
	if err == nil {
		t.Fatal("Put into a read-only store succeeded")
	}
	if !errors.Is(err, syscall.EROFS) && !errors.Is(err, os.ErrPermission) {
		t.Errorf("got %v, want EROFS or a permission error", err)
	}
	if !strings.Contains(err.Error(), d) {
		t.Errorf("error %q does not name the digest", err)
	}
	t.Log(err)

	// Reading still works, and so does opening without create.
	if _, err := Open(s.Dir(), false); err != nil {
		t.Errorf("Open of a read-only store: %v", err)
	}
	if written, err := s.Put(old, int64(len("stored before")), failReader{t}); err != nil || written {
		t.Errorf("Put of a stored blob into a read-only store = %v, %v", written, err)
	}
}

func TestPutDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "size=1m")
	s, err := Open(filepath.Join(dir, "store"), true)
	if err != nil {
		t.Fatal(err)
	}
	content := randomBytes(t, 2<<20)
	d := digestOf(content)
	written, err := s.Put(d, int64(len(content)), bytes.NewReader(content))
	if err == nil || written {
		t.Fatalf("Put of 2 MiB into 1 MiB = %v, %v; want an error", written, err)
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), d) {
		t.Errorf("got %v, want ENOSPC naming %s", err, d)
	}
	t.Log(err)
	if ok, _ := s.Has(d); ok {
		t.Error("a partial blob was left")
	}
	assertNoTemps(t, s)

	// The store is still valid and usable once space is free again.
	s2, err := Open(s.Dir(), false)
	if err != nil {
		t.Fatal(err)
	}
	small := putBytes(t, s2, []byte("fits"))
	if drift, err := s2.Check(t.Context(), []string{small}, true); err != nil || len(drift) != 0 {
		t.Errorf("Check after disk full = %v, %v", drift, err)
	}
	if err := s2.SetRefs(nil); err != nil {
		t.Errorf("SetRefs after disk full: %v", err)
	}
}
