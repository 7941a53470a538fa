//go:build linux

package bundle_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"ferry/bundle"
	"ferry/internal/testenv"
)

// fat32Max is the largest file FAT32 holds.
const fat32Max = 4<<30 - 1

// TestInstallerBeyond4GiB places the keys and the bundle of an installer
// after 4.5 GiB of executable bytes, in a sparse file, so that every
// offset is past what 32 bits hold. With FERRY_BIG=1 it also splits the
// installer into FAT32-sized parts (writing 4.5 GiB) and verifies and
// joins it from them.
func TestInstallerBeyond4GiB(t *testing.T) {
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
	if a.Payload().BundleOffset <= 1<<32 || a.Size() != res.BundleLength {
		t.Fatalf("payload at %d, %d bytes", a.Payload().BundleOffset, a.Size())
	}
	a.Close()
	if _, err := bundle.VerifyFile(context.Background(), path, bundle.VerifyOptions{Trust: key.trust(t)}); err != nil {
		t.Fatal(err)
	}
	readAllEntries(t, path, key.trust(t))

	if os.Getenv("FERRY_BIG") != "1" {
		t.Log("set FERRY_BIG=1 to split and join it too (writes 4.5 GiB)")
		return
	}
	parts, err := bundle.SplitFile(context.Background(), path, t.TempDir(), fat32Max)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Size != fat32Max {
		t.Fatalf("parts: %+v", parts)
	}
	if _, err := bundle.VerifyFile(context.Background(), parts[0].Path, bundle.VerifyOptions{Trust: key.trust(t)}); err != nil {
		t.Fatal(err)
	}
	n, err := bundle.JoinParts(context.Background(), io.Discard, parts[0].Path)
	if err != nil || n != tr.KeysOffset+int64(len(tail)) {
		t.Fatalf("join: %d bytes, %v", n, err)
	}
}
