package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"ferry/internal/oci"
)

// testLayout writes an OCI image layout at dir/rel.
func testLayout(t *testing.T, dir, rel string) layout.Path {
	t.Helper()
	p, err := layout.Write(filepath.Join(dir, rel), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testRefName(ref string) layout.Option {
	return layout.WithAnnotations(map[string]string{oci.RefNameAnnotation: ref})
}

func TestImageLayout(t *testing.T) {
	ctx := context.Background()
	specDir := t.TempDir()

	worker := testImage(t, "linux/amd64", testLayer(t, "worker 1.4.0"))
	named := testImage(t, "linux/amd64", testLayer(t, "worker 2.0"))
	multi := testIndex(t, "linux/amd64", "linux/arm64")
	p := testLayout(t, specDir, "images/worker")
	if err := p.AppendImage(worker, testRefName("1.4.0")); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(named, testRefName("registry.example.com/wf/worker:2.0")); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(multi, testRefName("multi")); err != nil {
		t.Fatal(err)
	}
	nested := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: multi})
	if err := p.AppendIndex(nested, testRefName("nested")); err != nil {
		t.Fatal(err)
	}
	single := testLayout(t, specDir, "images/single")
	if err := single.AppendImage(worker); err != nil {
		t.Fatal(err)
	}
	workerDigest := testDigest(t, worker)
	multiDigest := testDigest(t, multi)

	tests := []struct {
		name      string
		spec      testSpec
		platforms []string
		wantName  string
		wantTop   v1.Hash
		wantSrc   v1.Hash
		wantPlats []string
	}{
		{"tag ref", testSpec{Source: "oci:images/worker:1.4.0"}, nil, "worker:1.4.0", workerDigest, v1.Hash{}, []string{"linux/amd64"}},
		{"full ref name", testSpec{Source: "oci:images/worker:registry.example.com/wf/worker:2.0"}, nil, "wf/worker:2.0", testDigest(t, named), v1.Hash{}, []string{"linux/amd64"}},
		{"digest ref", testSpec{Source: "oci:images/worker:" + workerDigest.String()}, nil, "worker:1.4.0", workerDigest, v1.Hash{}, []string{"linux/amd64"}},
		{"spec name", testSpec{Source: "oci:images/worker:1.4.0", Name: "wf/worker:1.4.0"}, nil, "wf/worker:1.4.0", workerDigest, v1.Hash{}, []string{"linux/amd64"}},
		{"only image", testSpec{Source: "oci:images/single"}, nil, "single:latest", workerDigest, v1.Hash{}, []string{"linux/amd64"}},
		{"index whole", testSpec{Source: "oci:images/worker:multi"}, nil, "worker:multi", multiDigest, v1.Hash{}, []string{"linux/amd64", "linux/arm64"}},
		{"nested index", testSpec{Source: "oci:images/worker:nested"}, nil, "worker:nested", testDigest(t, nested), v1.Hash{}, nil},
		{"index one platform", testSpec{Source: "oci:images/worker:multi"}, []string{"linux/arm64/v8"}, "worker:multi", testIndexChild(t, multi, 1), multiDigest, []string{"linux/arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := resolveSpec(ctx, tt.spec, specDir, testOptions(tt.platforms...))
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != tt.wantName {
				t.Errorf("name %q, want %q", r.Name, tt.wantName)
			}
			if r.Descriptor.Digest != tt.wantTop || r.SourceDigest != tt.wantSrc {
				t.Errorf("digest %s source %s, want %s source %s", r.Descriptor.Digest, r.SourceDigest, tt.wantTop, tt.wantSrc)
			}
			if !slices.Equal(r.Platforms, tt.wantPlats) {
				t.Errorf("platforms %v, want %v", r.Platforms, tt.wantPlats)
			}
			checkBlobs(t, r)
		})
	}

	errs := []struct {
		name   string
		source string
		is     error
		says   []string
	}{
		{"ambiguous", "oci:images/worker", errSource, []string{"4 images", "1.4.0", "registry.example.com/wf/worker:2.0", "multi", "nested"}},
		{"missing ref", "oci:images/worker:9.9", errNotFound, []string{`"9.9"`, "1.4.0, registry.example.com/wf/worker:2.0, multi, nested"}},
		{"missing digest", "oci:images/worker:sha256:" + strings.Repeat("0", 64), errNotFound, []string{"refs: 1.4.0"}},
		{"no layout", "oci:images/nothing", errNotFound, []string{"index.json"}},
		{"leaves spec dir", "oci:../images/worker:1.4.0", errSource, []string{"inside"}},
		{"absolute", "oci:" + filepath.Join(specDir, "images/worker") + ":1.4.0", errSource, []string{"relative"}},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveSpec(ctx, testSpec{Source: tt.source}, specDir, testOptions())
			if !errors.Is(err, tt.is) {
				t.Fatalf("err %v, want %v", err, tt.is)
			}
			for _, s := range append(tt.says, tt.source) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func testIndexChild(t *testing.T, idx v1.ImageIndex, i int) v1.Hash {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return im.Manifests[i].Digest
}

func TestImageLayoutDamaged(t *testing.T) {
	ctx := context.Background()
	specDir := t.TempDir()
	img := testImage(t, "linux/amd64", testLayer(t, "content"))
	p := testLayout(t, specDir, "damaged")
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	h := testDigest(t, img)
	if err := os.WriteFile(filepath.Join(specDir, "damaged/blobs/sha256", h.Hex), []byte(`{"schemaVersion":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := resolveSpec(ctx, testSpec{Source: "oci:damaged"}, specDir, testOptions())
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), h.String()) {
		t.Errorf("err %v, want a damaged-manifest error naming %s", err, h)
	}
}

func TestImageLayoutForeignLayer(t *testing.T) {
	ctx := context.Background()
	specDir := t.TempDir()
	foreign := static.NewLayer(testTar(t, "windows.txt", "base layer a registry may not serve"), types.DockerForeignLayer)
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: foreign,
		URLs:  []string{"https://example.invalid/base.tar"},
	}, mutate.Addendum{Layer: testLayer(t, "app")})
	if err != nil {
		t.Fatal(err)
	}
	p := testLayout(t, specDir, "foreign")
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	fh := testDigest(t, foreign)

	// Content present: the layer is bundled like any other.
	r, err := resolveSpec(ctx, testSpec{Source: "oci:foreign"}, specDir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, r)

	// Content missing: an error naming the layer.
	if err := os.Remove(filepath.Join(specDir, "foreign/blobs/sha256", fh.Hex)); err != nil {
		t.Fatal(err)
	}
	_, err = resolveSpec(ctx, testSpec{Source: "oci:foreign"}, specDir, testOptions())
	if err == nil || !strings.Contains(err.Error(), fh.String()) || !strings.Contains(err.Error(), "foreign") {
		t.Errorf("err %v, want an error naming foreign layer %s", err, fh)
	}
}
