package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// putImage stores every blob of img with Put, as an installer does, and
// returns the digests stored and a Ref naming the image.
func putImage(t *testing.T, s *Store, name string, img v1.Image) (Ref, []string) {
	t.Helper()
	var digests []string
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		size, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(d.String(), size, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		digests = append(digests, d.String())
	}
	config, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	digests = append(digests, putBytes(t, s, config))
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	d := putBytes(t, s, raw)
	digests = append(digests, d)
	return Ref{Name: name, Digest: d, MediaType: string(mt), Size: int64(len(raw))}, digests
}

// putIndex stores a multi-platform image: its index, and every image in it.
func putIndex(t *testing.T, s *Store, name string, idx v1.ImageIndex) (Ref, []string) {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		_, ds := putImage(t, s, "", img)
		digests = append(digests, ds...)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	d := putBytes(t, s, raw)
	return Ref{Name: name, Digest: d, MediaType: string(mt), Size: int64(len(raw))}, append(digests, d)
}

func TestGC(t *testing.T) {
	s := newStore(t)
	idx, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	served, servedBlobs := putIndex(t, s, "wf/api:1.0.0", idx)
	if err := s.SetRefs([]Ref{served}); err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, unservedBlobs := putImage(t, s, "", img)
	kept := putBytes(t, s, []byte("a file of the previous release"))
	gone1 := putBytes(t, s, []byte("a file of a release rolled away"))
	gone2 := putBytes(t, s, randomBytes(t, 4096))
	leftover := filepath.Join(s.blobDir(), tempPrefix+"CRASHED")
	if err := os.WriteFile(leftover, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(s.blobDir(), "README")
	if err := os.WriteFile(foreign, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}

	// keep names the unserved image's layer but not its config and
	// manifest, and none of the served image: GC must still keep the
	// served image whole.
	keep := map[string]bool{kept: true, unservedBlobs[0]: true}
	removed, freed, err := s.GC(keep)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{gone1, gone2}, unservedBlobs[1:]...)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v\nwant %v", removed, want)
	}
	wantFreed := int64(len("a file of a release rolled away") + 4096 + 100)
	for _, d := range unservedBlobs[1:] {
		wantFreed += blobSize(t, img, d)
	}
	if freed != wantFreed {
		t.Errorf("freed %d bytes, want %d", freed, wantFreed)
	}
	for _, d := range append(slices.Clone(servedBlobs), kept, unservedBlobs[0]) {
		if ok, err := s.Has(d); !ok || err != nil {
			t.Errorf("GC removed %s, which is kept or referenced (%v)", d, err)
		}
	}
	assertNoTemps(t, s)
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("GC removed a file that is not a blob: %v", err)
	}

	// The served image is still whole.
	p, err := layout.FromPath(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := v1.NewHash(served.Digest)
	child, err := ii.ImageIndex(h)
	if err != nil {
		t.Fatal(err)
	}
	verifyIndex(t, child)

	// A second GC with the same keep has nothing left to do.
	if removed, freed, err := s.GC(keep); err != nil || len(removed) != 0 || freed != 0 {
		t.Errorf("second GC = %v, %d, %v", removed, freed, err)
	}
}

// blobSize is the size of the blob d of img.
func blobSize(t *testing.T, img v1.Image, d string) int64 {
	t.Helper()
	if raw, _ := img.RawManifest(); digestOf(raw) == d {
		return int64(len(raw))
	}
	if raw, _ := img.RawConfigFile(); digestOf(raw) == d {
		return int64(len(raw))
	}
	h, _ := v1.NewHash(d)
	l, err := img.LayerByDigest(h)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := l.Size()
	return size
}

func TestGCRemovesNothingWhenAManifestIsDamaged(t *testing.T) {
	s := newStore(t)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, digests := putImage(t, s, "wf/api:1.0.0", img)
	if err := s.SetRefs([]Ref{ref}); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(ref.Digest)
	raw, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), len(raw)), 0o644); err != nil {
		t.Fatal(err)
	}
	removed, _, err := s.GC(nil)
	if !errors.Is(err, ErrDigestMismatch) || len(removed) != 0 {
		t.Fatalf("GC with a damaged manifest = %v, %v; want ErrDigestMismatch and nothing removed", removed, err)
	}
	for _, d := range digests {
		if ok, _ := s.Has(d); !ok {
			t.Errorf("GC removed %s", d)
		}
	}
}

func TestGCMissingManifest(t *testing.T) {
	s := newStore(t)
	ref := manifestBlob(t, s, "wf/api:1.0.0")
	if err := s.SetRefs([]Ref{ref}); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(ref.Digest)
	os.Remove(p)
	other := putBytes(t, s, []byte("other"))
	removed, _, err := s.GC(nil)
	if err != nil || !slices.Equal(removed, []string{other}) {
		t.Errorf("GC = %v, %v; want [%s]", removed, err, other)
	}
}

// verifyIndex reads every image of a multi-platform image through
// go-containerregistry and checks each blob against its digest.
func verifyIndex(t *testing.T, idx v1.ImageIndex) {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		verifyImage(t, img)
	}
}

// verifyImage reads an image through go-containerregistry and checks its
// config and every layer against their digests.
func verifyImage(t *testing.T, img v1.Image) {
	t.Helper()
	if _, err := img.ConfigFile(); err != nil {
		t.Fatalf("config: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		want, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("layer %s: %v", want, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("layer %s: %v", want, err)
		}
		if got := digestOf(b); got != want.String() {
			t.Errorf("layer %s reads back as %s", want, got)
		}
	}
}
