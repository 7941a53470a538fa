//go:build linux

package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"ferry/bundle"
	"ferry/internal/testenv"
)

// fat32Max is the largest file FAT32 holds.
const fat32Max = 4<<30 - 1

// bigInstaller writes an installer whose keys and bundle lie after 4.5 GiB
// of executable bytes, in a sparse file, so that every offset is past what
// 32 bits hold; it returns its path, its key and its size.
func bigInstaller(t *testing.T) (string, releaseKey, int64) {
	key := newReleaseKey(t)
	exe := fakeExecutable(t)
	small, res := writeInstaller(t, exe, [][]byte{key.pub}, signedBundle(t, key))
	orig, err := os.ReadFile(small)
	if err != nil {
		t.Fatal(err)
	}

	const shift = 9 << 29 // 4.5 GiB
	path := filepath.Join(t.TempDir(), "big-installer")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Trailer
	tr.KeysOffset += shift
	tr.BundleOffset += shift
	trailer, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tail := append(bytes.Clone(orig[res.KeysOffset:res.BundleOffset+res.BundleLength]), trailer...)
	if _, err := f.WriteAt(exe, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(tail, tr.KeysOffset); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Sys().(*syscall.Stat_t).Blocks*512 > 1<<30 {
		testenv.SkipOrFail(t, "the temporary directory's file system does not keep sparse files sparse (set TMPDIR to one that does)")
	}

	a, err := bundle.OpenArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Payload().BundleOffset <= 1<<32 || a.Size() != res.BundleLength {
		t.Fatalf("payload at %d, %d bytes", a.Payload().BundleOffset, a.Size())
	}
	return path, key, tr.KeysOffset + int64(len(tail))
}

// TestInstallerBeyond4GiB verifies and reads an installer whose payload
// lies past 4 GiB, in a sparse file.
func TestInstallerBeyond4GiB(t *testing.T) {
	path, key, _ := bigInstaller(t)
	v, err := bundle.VerifyFile(context.Background(), path, bundle.VerifyOptions{Trust: key.trust(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.SignedBy, []string{key.trust(t).Keys[0].ID()}) || v.Manifest == nil {
		t.Fatalf("verified, signed by %v", v.SignedBy)
	}
	readAllEntries(t, path, key.trust(t))
}

// TestSplitJoinBeyond4GiB splits that installer into FAT32-sized parts,
// writing 4.5 GiB, and verifies and joins it from them. It runs with
// FERRY_BIG=1 (make test-big) and skips otherwise, so that it is never
// counted as passed when it did not run.
func TestSplitJoinBeyond4GiB(t *testing.T) {
	if os.Getenv("FERRY_BIG") != "1" {
		t.Skip("writes 4.5 GiB: run by make test-big (FERRY_BIG=1)")
	}
	path, key, size := bigInstaller(t)
	parts, err := bundle.SplitFile(context.Background(), path, t.TempDir(), fat32Max)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Size != fat32Max || parts[0].Size+parts[1].Size != size {
		t.Fatalf("parts: %+v", parts)
	}
	v, err := bundle.VerifyFile(context.Background(), parts[0].Path, bundle.VerifyOptions{Trust: key.trust(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.SignedBy, []string{key.trust(t).Keys[0].ID()}) || v.Manifest == nil {
		t.Fatalf("verified from the parts, signed by %v", v.SignedBy)
	}
	joined := sha256.New()
	n, err := bundle.JoinParts(context.Background(), joined, parts[0].Path)
	if err != nil || n != size {
		t.Fatalf("join: %d bytes, want %d: %v", n, size, err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	orig := sha256.New()
	if _, err := io.Copy(orig, f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(joined.Sum(nil), orig.Sum(nil)) {
		t.Fatal("the joined installer differs from the one split")
	}
}
