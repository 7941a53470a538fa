package push

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"ferry/internal/oci"
)

// testStore is an OCI layout built the way the content store is laid out:
// every image named by its ref.name annotation.
type testStore struct {
	dir  string
	path layout.Path
}

func newTestStore(t *testing.T) *testStore {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	return &testStore{dir: dir, path: p}
}

// addImage adds a random single-platform image named n and returns its
// manifest digest.
func (s *testStore) addImage(t *testing.T, n string) v1.Hash {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.path.AppendImage(img, layout.WithAnnotations(map[string]string{oci.RefNameAnnotation: n})); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// addIndex adds a random multi-platform index named n and returns its
// digest.
func (s *testStore) addIndex(t *testing.T, n string) v1.Hash {
	t.Helper()
	ii, err := random.Index(256, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.path.AppendIndex(ii, layout.WithAnnotations(map[string]string{oci.RefNameAnnotation: n})); err != nil {
		t.Fatal(err)
	}
	d, err := ii.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// counter counts the requests a registry receives, and those that upload
// (PUT, POST, PATCH).
type counter struct {
	mu       sync.Mutex
	requests int
	writes   int
	pings    int
}

func (c *counter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests++
		switch r.Method {
		case http.MethodPut, http.MethodPost, http.MethodPatch:
			c.writes++
		}
		if r.Method == http.MethodGet && r.URL.Path == "/v2/" {
			c.pings++
		}
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *counter) get() (requests, writes, pings int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, c.writes, c.pings
}

// failFirst answers the first n requests with status, then passes requests
// through: a registry that is restarting.
func failFirst(n int64, status int, next http.Handler) http.Handler {
	var seen atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			http.Error(w, http.StatusText(status), status)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newRegistry starts go-containerregistry's in-memory registry behind
// wrap on loopback and returns its host:port.
func newRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := http.Handler(registry.New(registry.Logger(quietLog())))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pullDigest pulls ref back from the registry, checks that every blob it
// names is there with the right content, and returns its digest.
func pullDigest(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if desc.MediaType.IsIndex() {
		ii, err := desc.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, ref, ii)
	} else {
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, ref, img)
	}
	return desc.Digest
}

// checkIndex checks every image of a pulled index.
func checkIndex(t *testing.T, ref string, ii v1.ImageIndex) {
	t.Helper()
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if len(im.Manifests) == 0 {
		t.Fatalf("pull %s: the index is empty", ref)
	}
	for _, d := range im.Manifests {
		img, err := ii.Image(d.Digest)
		if err != nil {
			t.Fatalf("pull %s: %s: %v", ref, d.Digest, err)
		}
		checkImage(t, ref+" "+d.Digest.String(), img)
	}
}

// checkImage reads a pulled image's manifest, config and layers and checks
// each against its digest.
func checkImage(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	check := func(what string, want v1.Hash, r io.Reader) {
		t.Helper()
		got, _, err := v1.SHA256(r)
		if err != nil {
			t.Fatalf("pull %s: %s: %v", ref, what, err)
		}
		if got != want {
			t.Fatalf("pull %s: %s has digest %s, want %s", ref, what, got, want)
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	check("manifest", d, bytes.NewReader(raw))
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatalf("pull %s: config: %v", ref, err)
	}
	cn, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	check("config", cn, bytes.NewReader(cfg))
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("pull %s: layer %s: %v", ref, ld, err)
		}
		check("layer", ld, rc)
		rc.Close()
	}
}

// layoutName is the option naming an image in the layout.
func layoutName(n string) layout.Option {
	return layout.WithAnnotations(map[string]string{oci.RefNameAnnotation: n})
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// corruptBlob changes one byte of the blob with digest d in the layout at
// dir.
func corruptBlob(t *testing.T, dir string, d v1.Hash) {
	t.Helper()
	p := filepath.Join(dir, "blobs", d.Algorithm, d.Hex)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
