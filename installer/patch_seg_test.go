package installer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/installer/store"
	"ferry/verify"
)

// segPatch makes files above 32 KiB travel as segmented patches of 32 KiB
// segments with 8 KiB margins, so that a file of a few hundred KiB takes
// the path of a large one.
var segPatch = bundle.PatchOptions{WholeMax: 32 << 10, SegmentSize: 32 << 10, SegmentMargin: 8 << 10}

func buildPatched(t *testing.T, specPath, out, base string, key *ecdsa.PrivateKey) *bundle.BuildResult {
	t.Helper()
	spec, err := bundle.LoadSpec(specPath)
	must(t, err)
	signer, err := verify.NewSigner(key)
	must(t, err)
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{
		Spec: spec, Signers: []verify.Signer{signer}, Base: base, Patch: segPatch,
	})
	must(t, err)
	return res
}

// segmentedEntry returns the update's segmented patch entry.
func segmentedEntry(t *testing.T, m *bundle.Manifest) bundle.Entry {
	t.Helper()
	for _, e := range m.Entries {
		if e.Encoding == bundle.EncodingZstdPatchSeg {
			return e
		}
	}
	t.Fatalf("no segmented patch in the update: %+v", m.Entries)
	return bundle.Entry{}
}

// TestSegmentedPatchUpdate: a large file changed in a few places, or with
// bytes inserted that shift the rest by less or by more than the margin,
// travels as a segmented patch and is rebuilt exactly by Install on a host
// with the base.
func TestSegmentedPatchUpdate(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	pub := pubPEM(t, key)
	must(t, fixtures.WriteFile(filepath.Join(dir, "seed"), fixtures.KindBinary, 128<<10, "segmented"))
	content, err := os.ReadFile(filepath.Join(dir, "seed"))
	must(t, err)
	buildPatched(t, patchProject(t, filepath.Join(dir, "p1"), "1.0.0", content), filepath.Join(dir, "v1.ferry"), "", key)
	root := filepath.Join(dir, "root")
	if _, err := Install(context.Background(), filepath.Join(dir, "v1.ferry"), Options{Root: root, Keys: [][]byte{pub}}); err != nil {
		t.Fatal(err)
	}

	insert := func(at, n int) []byte {
		return append(append(bytes.Clone(content[:at]), bytes.Repeat([]byte("inserted"), n/8)...), content[at:]...)
	}
	inPlace := bytes.Clone(content)
	copy(inPlace[20<<10:], "a few changed bytes")
	copy(inPlace[100<<10:], "and a few more")
	for i, tc := range []struct {
		name    string
		changed []byte
		max     int64
	}{
		{"in place", inPlace, 4 << 10},
		{"shift below the margin", insert(50<<10, 4<<10), 4 << 10},
		// Every segment after the insertion misses its base bytes: the
		// patch is larger, but still pays when the insertion is late.
		{"shift beyond the margin", insert(100<<10, 20<<10), 64 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version := []string{"1.1.0", "1.2.0", "1.3.0"}[i]
			host := filepath.Join(dir, "host-"+version)
			must(t, os.CopyFS(host, os.DirFS(root)))
			out := filepath.Join(dir, version+".ferry")
			v2 := buildPatched(t, patchProject(t, filepath.Join(dir, "p-"+version), version, tc.changed), out, filepath.Join(dir, "v1.ferry"), key)
			e := segmentedEntry(t, v2.Manifest)
			if e.StoredSize > tc.max {
				t.Errorf("segmented patch of %d bytes, want at most %d", e.StoredSize, tc.max)
			}
			t.Logf("%d bytes travel as a segmented patch of %d bytes", e.Size, e.StoredSize)
			if _, err := bundle.VerifyFile(context.Background(), out, bundle.VerifyOptions{Trust: trustOf(t, pub), Deep: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := Install(context.Background(), out, Options{Root: host}); err != nil {
				t.Fatal(err)
			}
			checkInstalled(t, host, v2.Manifest)
			got, err := os.ReadFile(filepath.Join(host, "current", "bin", "app"))
			must(t, err)
			if !bytes.Equal(got, tc.changed) {
				t.Fatal("the patched file differs")
			}
		})
	}
}

// TestSegmentedPatchRefused: a damaged base blob in the store is refused
// as the wrong base before any patching, and a damaged segmented entry as
// content that does not match its signed digest; the host stays on the
// base release either way.
func TestSegmentedPatchRefused(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	pub := pubPEM(t, key)
	must(t, fixtures.WriteFile(filepath.Join(dir, "seed"), fixtures.KindBinary, 128<<10, "refused"))
	content, err := os.ReadFile(filepath.Join(dir, "seed"))
	must(t, err)
	v1 := buildPatched(t, patchProject(t, filepath.Join(dir, "p1"), "1.0.0", content), filepath.Join(dir, "v1.ferry"), "", key)
	changed := bytes.Clone(content)
	copy(changed[50<<10:], "changed")
	update := filepath.Join(dir, "v2.ferry")
	v2 := buildPatched(t, patchProject(t, filepath.Join(dir, "p2"), "1.1.0", changed), update, filepath.Join(dir, "v1.ferry"), key)
	e := segmentedEntry(t, v2.Manifest)
	root := filepath.Join(dir, "root")
	if _, err := Install(context.Background(), filepath.Join(dir, "v1.ferry"), Options{Root: root, Keys: [][]byte{pub}}); err != nil {
		t.Fatal(err)
	}

	t.Run("damaged base", func(t *testing.T) {
		host := filepath.Join(dir, "damaged-base")
		must(t, os.CopyFS(host, os.DirFS(root)))
		st, err := store.Open(filepath.Join(host, "store"), false)
		must(t, err)
		p, err := st.Path(e.PatchBase)
		must(t, err)
		broken := bytes.Clone(content)
		broken[100<<10] ^= 1
		must(t, os.WriteFile(p, broken, 0o644))
		_, err = Install(context.Background(), update, Options{Root: host})
		if !errors.Is(err, ErrWrongBase) {
			t.Fatalf("got %v, want %v", err, ErrWrongBase)
		}
		t.Log(err)
		checkInstalled(t, host, v1.Manifest)
	})

	t.Run("damaged entry", func(t *testing.T) {
		host := filepath.Join(dir, "damaged-entry")
		must(t, os.CopyFS(host, os.DirFS(root)))
		data, err := os.ReadFile(update)
		must(t, err)
		at := bytes.Index(data, []byte("ferryseg"))
		if at < 0 {
			t.Fatal("no segmented patch header in the update")
		}
		// A byte of the first frame, after the header.
		data[at+int(e.StoredSize)/2] ^= 0x10
		damaged := filepath.Join(dir, "damaged.ferry")
		must(t, os.WriteFile(damaged, data, 0o644))
		_, err = Install(context.Background(), damaged, Options{Root: host})
		if !errors.Is(err, bundle.ErrDigestMismatch) {
			t.Fatalf("got %v, want %v", err, bundle.ErrDigestMismatch)
		}
		t.Log(err)
		checkInstalled(t, host, v1.Manifest)
		if _, err := bundle.VerifyFile(context.Background(), damaged, bundle.VerifyOptions{Trust: trustOf(t, pub), Deep: true}); !errors.Is(err, bundle.ErrDigestMismatch) {
			t.Fatalf("verify --deep: got %v, want %v", err, bundle.ErrDigestMismatch)
		}
	})
}

func trustOf(t *testing.T, pub []byte) verify.TrustSet {
	t.Helper()
	k, err := verify.ParsePublicKey(pub)
	must(t, err)
	return verify.TrustSet{Keys: []*verify.PublicKey{k}}
}
