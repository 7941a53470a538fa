package push

import (
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
	"github.com/google/go-containerregistry/pkg/v1/validate"
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
	if err := s.path.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: n})); err != nil {
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
	if err := s.path.AppendIndex(ii, layout.WithAnnotations(map[string]string{refNameAnnotation: n})); err != nil {
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
	var h http.Handler = registry.New(registry.Logger(quietLog()))
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
		if err := validate.Index(ii); err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
	}
	return desc.Digest
}

// layoutName is the option naming an image in the layout.
func layoutName(n string) layout.Option {
	return layout.WithAnnotations(map[string]string{refNameAnnotation: n})
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
