package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testTar returns an uncompressed tar holding one file.
func testTar(t testing.TB, file, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testLayer is a deterministic gzip layer holding one file.
func testLayer(t testing.TB, content string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(testTar(t, "data.txt", content)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return static.NewLayer(buf.Bytes(), types.OCILayer)
}

// testImage is an OCI image for one platform with the given layers.
func testImage(t testing.TB, platform string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			t.Fatal(err)
		}
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

// testIndex is a multi-platform index: one image per platform, each
// with a layer shared by all and a layer of its own.
func testIndex(t *testing.T, platforms ...string) v1.ImageIndex {
	t.Helper()
	shared := testLayer(t, "shared base layer")
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, ps := range platforms {
		p, err := v1.ParsePlatform(ps)
		if err != nil {
			t.Fatal(err)
		}
		img := testImage(t, ps, shared, testLayer(t, "binary for "+ps))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	return idx
}

// testRegistry starts go-containerregistry's in-process registry on
// loopback and returns its host:port and the paths of the blob requests it
// served, so tests can tell when layers were fetched.
func testRegistry(t *testing.T) (host string, blobGets func() []string) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			mu.Lock()
			paths = append(paths, r.URL.Path)
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// testOptions talks plain HTTP to the test registry and uses no
// credentials from the environment.
func testOptions(platforms ...string) Options {
	return Options{PlainHTTP: true, Platforms: platforms, Keychain: authn.NewMultiKeychain()}
}

// checkBlobs reads every blob through Open and checks its sha256 and
// size against the declared ones, that no digest is listed twice, and that
// the blobs are exactly those reachable from the descriptor. It returns the
// blob contents by digest.
func checkBlobs(t *testing.T, r *Resolved) map[v1.Hash][]byte {
	t.Helper()
	content := map[v1.Hash][]byte{}
	mediaTypes := map[v1.Hash]types.MediaType{}
	for _, b := range r.Blobs {
		if _, dup := content[b.Digest]; dup {
			t.Errorf("blob %s listed twice", b.Digest)
			continue
		}
		rc, err := b.Open()
		if err != nil {
			t.Fatalf("open %s: %v", b.Digest, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", b.Digest, err)
		}
		sum := sha256.Sum256(data)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != b.Digest.String() {
			t.Errorf("blob %s (%s): content hashes to %s", b.Digest, b.MediaType, got)
		}
		if int64(len(data)) != b.Size {
			t.Errorf("blob %s: %d bytes, declared %d", b.Digest, len(data), b.Size)
		}
		content[b.Digest] = data
		mediaTypes[b.Digest] = types.MediaType(b.MediaType)
	}

	reachable := map[v1.Hash]bool{}
	var walk func(d v1.Descriptor)
	walk = func(d v1.Descriptor) {
		reachable[d.Digest] = true
		data, ok := content[d.Digest]
		if !ok {
			t.Errorf("blob %s (%s) is reachable but not listed", d.Digest, d.MediaType)
			return
		}
		if int64(len(data)) != d.Size {
			t.Errorf("blob %s: %d bytes, its descriptor says %d", d.Digest, len(data), d.Size)
		}
		switch {
		case d.MediaType.IsIndex():
			im, err := v1.ParseIndexManifest(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("index %s: %v", d.Digest, err)
			}
			for _, c := range im.Manifests {
				walk(c)
			}
		case d.MediaType.IsImage():
			m, err := v1.ParseManifest(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("manifest %s: %v", d.Digest, err)
			}
			walk(m.Config)
			for _, l := range m.Layers {
				walk(l)
			}
		}
	}
	walk(r.Descriptor)
	if mediaTypes[r.Descriptor.Digest] != r.Descriptor.MediaType {
		t.Errorf("top blob media type %q, descriptor %q", mediaTypes[r.Descriptor.Digest], r.Descriptor.MediaType)
	}
	for h := range content {
		if !reachable[h] {
			t.Errorf("blob %s is listed but not reachable from %s", h, r.Descriptor.Digest)
		}
	}
	return content
}

func testDigest(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func testRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// testSpec is an image of a spec: its source and the name it is served
// under, as ferry.yaml gives them.
type testSpec struct{ Source, Name string }

func resolveSpec(ctx context.Context, s testSpec, specDir string, opts Options) (*Resolved, error) {
	return Resolve(ctx, s.Source, s.Name, specDir, opts)
}
