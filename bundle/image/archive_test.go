package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestImageArchive(t *testing.T) {
	ctx := context.Background()
	specDir := t.TempDir()
	img := testImage(t, "linux/amd64", testLayer(t, "legacy one"), testLayer(t, "legacy two"))
	path := filepath.Join(specDir, "images", "legacy.tar")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, testRef(t, "registry.example.com/wf/legacy:2.0"), img); err != nil {
		t.Fatal(err)
	}
	wantLayers, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		spec     testSpec
		wantName string
	}{
		{testSpec{Source: "docker-archive:images/legacy.tar"}, "wf/legacy:2.0"},
		{testSpec{Source: "docker-archive:images/legacy.tar", Name: "wf/old-api:2"}, "wf/old-api:2"},
		{testSpec{Source: "docker-archive:images/legacy.tar:registry.example.com/wf/legacy:2.0"}, "wf/legacy:2.0"},
	} {
		r, err := resolveSpec(ctx, tt.spec, specDir, testOptions("linux/amd64"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != tt.wantName {
			t.Errorf("%s: name %q, want %q", tt.spec.Source, r.Name, tt.wantName)
		}
		if r.Descriptor.MediaType != types.DockerManifestSchema2 || !slices.Equal(r.Platforms, []string{"linux/amd64"}) {
			t.Errorf("descriptor %s, platforms %v", r.Descriptor.MediaType, r.Platforms)
		}
		content := checkBlobs(t, r)
		// The archive holds the layers compressed: their digests survive.
		for _, l := range wantLayers.Layers {
			if _, ok := content[l.Digest]; !ok {
				t.Errorf("layer %s of the saved image is not among the blobs", l.Digest)
			}
		}
	}

	_, err = resolveSpec(ctx, testSpec{Source: "docker-archive:images/legacy.tar"}, specDir, testOptions("linux/arm64"))
	if !errors.Is(err, errPlatform) {
		t.Errorf("err %v, want errPlatform", err)
	}
	_, err = resolveSpec(ctx, testSpec{Source: "docker-archive:images/none.tar"}, specDir, testOptions())
	if !errors.Is(err, errNotFound) {
		t.Errorf("err %v, want errNotFound", err)
	}
}

func TestImageArchiveMulti(t *testing.T) {
	ctx := context.Background()
	specDir := t.TempDir()
	a := testImage(t, "linux/amd64", testLayer(t, "a"))
	b := testImage(t, "linux/amd64", testLayer(t, "b"))
	if err := tarball.MultiRefWriteToFile(filepath.Join(specDir, "two.tar"), map[name.Reference]v1.Image{
		testRef(t, "wf/a:1"): a,
		testRef(t, "wf/b:1"): b,
	}); err != nil {
		t.Fatal(err)
	}

	_, err := resolveSpec(ctx, testSpec{Source: "docker-archive:two.tar"}, specDir, testOptions())
	if !errors.Is(err, errSource) || !strings.Contains(err.Error(), "wf/a:1") || !strings.Contains(err.Error(), "wf/b:1") {
		t.Errorf("err %v, want an error listing both tags", err)
	}
	r, err := resolveSpec(ctx, testSpec{Source: "docker-archive:two.tar:wf/b:1"}, specDir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "wf/b:1" {
		t.Errorf("name %q", r.Name)
	}
	checkBlobs(t, r)
	_, err = resolveSpec(ctx, testSpec{Source: "docker-archive:two.tar:wf/c:1"}, specDir, testOptions())
	if !errors.Is(err, errNotFound) || !strings.Contains(err.Error(), "wf/a:1") {
		t.Errorf("err %v, want not found listing the tags", err)
	}
}

// TestImageArchiveUncompressed reads an archive the way docker save writes
// it: uncompressed layers and no tag. go-containerregistry compresses the
// layers; the digests must come out the same on every resolution and match
// what Open returns.
func TestImageArchiveUncompressed(t *testing.T) {
	ctx := context.Background()
	specDir := t.TempDir()
	layers := [][]byte{
		testTar(t, "etc/app.conf", strings.Repeat("setting = value\n", 200)),
		testTar(t, "bin/app", strings.Repeat("\x7fELF binary ", 500)),
	}
	var diffIDs []v1.Hash
	for _, l := range layers {
		sum := sha256.Sum256(l)
		diffIDs = append(diffIDs, v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])})
	}
	cfg, err := json.Marshal(v1.ConfigFile{
		Architecture: "arm64",
		OS:           "linux",
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal(tarball.Manifest{{Config: "config.json", Layers: []string{"l1/layer.tar", "l2/layer.tar"}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(specDir, "saved.tar"))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{"l1/layer.tar", layers[0]}, {"l2/layer.tar", layers[1]}, {"config.json", cfg}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	var first *Resolved
	for range 2 {
		r, err := resolveSpec(ctx, testSpec{Source: "docker-archive:saved.tar"}, specDir, testOptions("linux/arm64"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "saved:latest" || !slices.Equal(r.Platforms, []string{"linux/arm64"}) {
			t.Errorf("name %q platforms %v", r.Name, r.Platforms)
		}
		content := checkBlobs(t, r)
		// Every Open compresses again; a second read must match too.
		for _, b := range r.Blobs {
			rc, err := b.Open()
			if err != nil {
				t.Fatal(err)
			}
			h, n, err := v1.SHA256(rc)
			rc.Close()
			if err != nil || h != b.Digest || n != b.Size || int64(len(content[b.Digest])) != n {
				t.Errorf("second read of %s: %s, %d bytes, %v", b.Digest, h, n, err)
			}
		}
		if first == nil {
			first = r
		} else if r.Descriptor.Digest != first.Descriptor.Digest {
			t.Errorf("resolved twice to %s and %s", first.Descriptor.Digest, r.Descriptor.Digest)
		}
	}
}
