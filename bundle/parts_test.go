package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"ferry/bundle"
	"ferry/internal/testenv"
)

// splitBundle writes data as NAME.ferry in a new directory and splits it
// into parts of size bytes; it returns the path of the first part.
func splitBundle(t *testing.T, data []byte, size int64) (string, []bundle.Part) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "app-1.0.0.ferry")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	parts, err := bundle.SplitFile(context.Background(), path, "", size)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0].Path, parts
}

func TestSplitJoin(t *testing.T) {
	key := newReleaseKey(t)
	data := signedBundle(t, key)
	ts := key.trust(t)
	// Block-sized, odd, prime and larger-than-the-file part sizes.
	for _, size := range []int64{4096, 1000, 7919, int64(len(data)) - 1, int64(len(data)), 1 << 30} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			first, parts := splitBundle(t, data, size)
			want := (int64(len(data)) + size - 1) / size
			if int64(len(parts)) != want {
				t.Fatalf("%d parts, want %d", len(parts), want)
			}
			var total int64
			for i, p := range parts {
				if p.Size > size || (i < len(parts)-1 && p.Size != size) {
					t.Fatalf("part %d: %d bytes", i, p.Size)
				}
				if filepath.Base(p.Path) != fmt.Sprintf("app-1.0.0.ferry.part%03d", i) {
					t.Fatalf("part %d is named %s", i, p.Path)
				}
				total += p.Size
			}
			if total != int64(len(data)) {
				t.Fatalf("parts hold %d bytes, want %d", total, len(data))
			}

			var joined bytes.Buffer
			n, err := bundle.JoinParts(context.Background(), &joined, first)
			if err != nil || n != int64(len(data)) || !bytes.Equal(joined.Bytes(), data) {
				t.Fatalf("join: %d bytes, %v", n, err)
			}
			v, err := bundle.VerifyFile(context.Background(), first, bundle.VerifyOptions{Trust: ts})
			if err != nil {
				t.Fatalf("verify from the first part: %v", err)
			}
			if v.Size != int64(len(data)) || !slices.Equal(v.SignedBy, []string{ts.Keys[0].ID()}) {
				t.Fatalf("verified %d of %d bytes, signed by %v", v.Size, len(data), v.SignedBy)
			}
			if _, err := bundle.InspectFile(first); err != nil {
				t.Fatalf("inspect from the first part: %v", err)
			}
			readAllEntries(t, first, ts)
		})
	}
}

// TestPartListIsSha256sum: the checksum list is what sha256sum -c reads.
func TestPartListIsSha256sum(t *testing.T) {
	sha256sum := testenv.Tool(t, "sha256sum", "coreutils")
	first, parts := splitBundle(t, randomBytes(t, 10000), 3000)
	dir := filepath.Dir(first)
	cmd := exec.Command(sha256sum, "-c", "app-1.0.0.ferry.parts.sha256")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	list, err := os.ReadFile(filepath.Join(dir, "app-1.0.0.ferry.parts.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		b, _ := os.ReadFile(p.Path)
		sum := sha256.Sum256(b)
		if !strings.Contains(string(list), hex.EncodeToString(sum[:])+"  "+filepath.Base(p.Path)+"\n") {
			t.Fatalf("list does not hold %s:\n%s", p.Path, list)
		}
	}
}

func TestPartsRefused(t *testing.T) {
	key := newReleaseKey(t)
	data := signedBundle(t, key)
	ts := key.trust(t)
	const size = 5000
	cases := []struct {
		name   string
		change func(t *testing.T, dir string, parts []bundle.Part)
		want   error
		names  string // the message names this file
	}{
		{"missing middle part", func(t *testing.T, dir string, parts []bundle.Part) {
			remove(t, parts[1].Path)
		}, bundle.ErrMissingPart, "part001"},
		{"missing last part", func(t *testing.T, dir string, parts []bundle.Part) {
			remove(t, parts[len(parts)-1].Path)
		}, bundle.ErrMissingPart, fmt.Sprintf("part%03d", len(data)/size)},
		{"missing list", func(t *testing.T, dir string, parts []bundle.Part) {
			remove(t, filepath.Join(dir, "app-1.0.0.ferry.parts.sha256"))
		}, bundle.ErrMissingPart, "parts.sha256"},
		{"damaged first part", func(t *testing.T, dir string, parts []bundle.Part) {
			flip(t, parts[0].Path, 700)
		}, bundle.ErrDamagedPart, "part000"},
		{"damaged later part", func(t *testing.T, dir string, parts []bundle.Part) {
			flip(t, parts[2].Path, 10)
		}, bundle.ErrDamagedPart, "part002"},
		{"truncated part", func(t *testing.T, dir string, parts []bundle.Part) {
			if err := os.Truncate(parts[1].Path, 100); err != nil {
				t.Fatal(err)
			}
		}, bundle.ErrDamagedPart, "part001"},
		{"parts in the wrong order", func(t *testing.T, dir string, parts []bundle.Part) {
			swap(t, parts[1].Path, parts[2].Path)
		}, bundle.ErrDamagedPart, "part001"},
		{"list in the wrong order", func(t *testing.T, dir string, parts []bundle.Part) {
			list := filepath.Join(dir, "app-1.0.0.ferry.parts.sha256")
			b, err := os.ReadFile(list)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(b), "\n")
			lines[0], lines[1] = lines[1], lines[0]
			write(t, list, []byte(strings.Join(lines, "")))
		}, bundle.ErrDamagedPart, "parts.sha256 line 1"},
		{"a part from another split", func(t *testing.T, dir string, parts []bundle.Part) {
			write(t, filepath.Join(dir, fmt.Sprintf("app-1.0.0.ferry.part%03d", len(parts))), []byte("left over"))
		}, bundle.ErrDamagedPart, fmt.Sprintf("part%03d", len(data)/size+1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			first, parts := splitBundle(t, data, size)
			if len(parts) < 4 {
				t.Fatalf("the test needs at least 4 parts, got %d", len(parts))
			}
			c.change(t, filepath.Dir(first), parts)

			_, err := bundle.VerifyFile(context.Background(), first, bundle.VerifyOptions{Trust: ts})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.names) {
				t.Fatalf("verify: %v, want %v naming %s", err, c.want, c.names)
			}
			var out bytes.Buffer
			_, err = bundle.JoinParts(context.Background(), &out, first)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.names) {
				t.Fatalf("join: %v, want %v naming %s", err, c.want, c.names)
			}
			if errors.Is(c.want, bundle.ErrMissingPart) && out.Len() > 0 {
				t.Fatalf("join wrote %d bytes before finding a part missing", out.Len())
			}
		})
	}
}

func TestPartsFromALaterPart(t *testing.T) {
	_, parts := splitBundle(t, randomBytes(t, 3000), 1000)
	_, err := bundle.OpenArchive(parts[1].Path)
	if err == nil || !strings.Contains(err.Error(), "part000") {
		t.Fatalf("opening the second part: %v, want a pointer to the first", err)
	}
}

func TestSplitRefuses(t *testing.T) {
	first, _ := splitBundle(t, randomBytes(t, 3000), 1000)
	path := strings.TrimSuffix(first, ".part000")
	if _, err := bundle.SplitFile(context.Background(), path, "", 500); err == nil {
		t.Fatal("split over the parts of an earlier split")
	}
	if _, err := bundle.SplitFile(context.Background(), path, t.TempDir(), 2); err == nil {
		t.Fatal("split into more parts than the limit")
	}
	if _, err := bundle.SplitFile(context.Background(), path, t.TempDir(), 0); err == nil {
		t.Fatal("split with a zero part size")
	}
	empty := filepath.Join(t.TempDir(), "empty.ferry")
	write(t, empty, nil)
	if _, err := bundle.SplitFile(context.Background(), empty, "", 100); err == nil {
		t.Fatal("split an empty file")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := bundle.SplitFile(ctx, path, dir, 1000); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled split: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a failed split left %d files behind", len(left))
	}
}

// TestSplitInstaller: an installer split for media is read from its first
// part like the installer itself.
func TestSplitInstaller(t *testing.T) {
	key := newReleaseKey(t)
	path, res := writeInstaller(t, fakeExecutable(t), [][]byte{key.pub}, signedBundle(t, key))
	parts, err := bundle.SplitFile(context.Background(), path, t.TempDir(), 9973)
	if err != nil {
		t.Fatal(err)
	}
	a, err := bundle.OpenArchive(parts[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Payload() == nil || a.Payload().ManifestDigest != res.Verified.Digest || len(a.Parts()) != len(parts) {
		t.Fatalf("split installer opened as %s", a)
	}
	v, err := bundle.Verify(context.Background(), a, bundle.VerifyOptions{Trust: key.trust(t)})
	if err != nil {
		t.Fatal(err)
	}
	if v.Digest != res.Verified.Digest || !slices.Equal(v.SignedBy, []string{key.trust(t).Keys[0].ID()}) {
		t.Fatalf("verified bundle %s signed by %v, want %s", v.Digest, v.SignedBy, res.Verified.Digest)
	}
}

// TestPartsConcurrentReadAt reads a split file at random offsets from
// several goroutines: every read matches, and each part is hashed once
// however many readers reach it first.
func TestPartsConcurrentReadAt(t *testing.T) {
	data := randomBytes(t, 50_000)
	first, _ := splitBundle(t, data, 3333)
	a, err := bundle.OpenArchive(first)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Size() != int64(len(data)) {
		t.Fatalf("size %d, want %d", a.Size(), len(data))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 200 {
				off := r.IntN(len(data))
				n := min(r.IntN(9000), len(data)-off)
				buf := make([]byte, n)
				_, err := a.ReadAt(buf, int64(off))
				if atEnd := errors.Is(err, io.EOF) && off+n == len(data); err != nil && !atEnd {
					errs <- err
					return
				}
				if !bytes.Equal(buf, data[off:off+n]) {
					errs <- fmt.Errorf("ReadAt(%d, %d) differs", off, n)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, err := a.ReadAt(buf, int64(len(data))-5); n != 5 || !errors.Is(err, io.EOF) {
		t.Fatalf("reading past the end: %d, %v", n, err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x01
	write(t, path, b)
}

func swap(t *testing.T, a, b string) {
	t.Helper()
	tmp := a + ".swap"
	for _, mv := range [][2]string{{a, tmp}, {b, a}, {tmp, b}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
}
