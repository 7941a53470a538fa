package image

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blobRequest is a GET of a blob the test registry served: its digest and
// Range header.
type blobRequest struct{ digest, rng string }

// fetchRegistry is go-containerregistry's registry on loopback that
// records every blob GET and, for a blob named in cut, sends the first
// half of its next cut[digest] responses and then closes the connection.
type fetchRegistry struct {
	host string
	mu   sync.Mutex
	gets []blobRequest
	cut  map[string]int
	// forged, by digest, is content sent in place of the blob's.
	forged map[string][]byte
}

func newFetchRegistry(t *testing.T) *fetchRegistry {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	fr := &fetchRegistry{cut: map[string]int{}, forged: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, digest, ok := strings.Cut(r.URL.Path, "/blobs/")
		if r.Method != http.MethodGet || !ok {
			reg.ServeHTTP(w, r)
			return
		}
		fr.mu.Lock()
		fr.gets = append(fr.gets, blobRequest{digest, r.Header.Get("Range")})
		cut := fr.cut[digest] > 0
		fr.cut[digest]--
		forged, forge := fr.forged[digest]
		fr.mu.Unlock()
		if forge {
			w.Header().Set("Content-Length", strconv.Itoa(len(forged)))
			if _, err := w.Write(forged); err != nil {
				t.Error(err)
			}
			return
		}
		if !cut {
			reg.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		if _, err := w.Write(body[:len(body)/2]); err != nil {
			t.Error(err)
			return
		}
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	fr.host = strings.TrimPrefix(srv.URL, "http://")
	return fr
}

// requests returns the GETs of blob digest so far.
func (fr *fetchRegistry) requests(digest v1.Hash) []blobRequest {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	var out []blobRequest
	for _, g := range fr.gets {
		if g.digest == digest.String() {
			out = append(out, g)
		}
	}
	return out
}

// randomLayer is a layer of n incompressible bytes.
func randomLayer(t *testing.T, n int) v1.Layer {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return static.NewLayer(b, types.OCILayer)
}

// TestFetcherSharedLayersOnce: the layers of several images that share a
// base layer are fetched ahead, each once, and read back as their
// digests say; progress reaches each image's total.
func TestFetcherSharedLayersOnce(t *testing.T) {
	fr := newFetchRegistry(t)
	base := randomLayer(t, 256<<10)
	var refs []string
	var own []v1.Layer
	for i := range 3 {
		l := randomLayer(t, 64<<10)
		own = append(own, l)
		ref := fmt.Sprintf("%s/svc/app-%d:1.0", fr.host, i)
		if err := remote.Write(testRef(t, ref), testImage(t, "linux/amd64", base, l)); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	var mu sync.Mutex
	progress := map[string][2]int64{}
	f := NewFetcher(context.Background(), FetchOptions{Dir: t.TempDir(), Workers: 2, Progress: func(src string, done, total int64) {
		mu.Lock()
		progress[src] = [2]int64{done, total}
		mu.Unlock()
	}})
	defer f.Close()
	opts := testOptions()
	opts.Fetcher = f
	for _, ref := range refs {
		r, err := Resolve(context.Background(), ref, "", "", opts)
		if err != nil {
			t.Fatal(err)
		}
		checkBlobs(t, r)
	}
	for _, l := range append(own, base) {
		if got := fr.requests(testDigest(t, l)); len(got) != 1 {
			t.Errorf("layer %s fetched %d times, want once", testDigest(t, l), len(got))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ref := range refs {
		if p := progress[ref]; p[0] != p[1] || p[1] == 0 {
			t.Errorf("progress of %s: %d of %d bytes", ref, p[0], p[1])
		}
	}
}

// TestFetcherResumes: a connection dropped in the middle of a layer is
// followed by a request for the rest of it only, and the layer reads back
// whole; the other layer, fetched already, is not asked for again.
func TestFetcherResumes(t *testing.T) {
	fr := newFetchRegistry(t)
	big, small := randomLayer(t, 1<<20), randomLayer(t, 32<<10)
	ref := fr.host + "/svc/big:1.0"
	if err := remote.Write(testRef(t, ref), testImage(t, "linux/amd64", small, big)); err != nil {
		t.Fatal(err)
	}
	fr.cut[testDigest(t, big).String()] = 1
	f := NewFetcher(context.Background(), FetchOptions{Dir: t.TempDir()})
	defer f.Close()
	opts := testOptions()
	opts.Fetcher = f
	r, err := Resolve(context.Background(), ref, "", "", opts)
	if err != nil {
		t.Fatal(err)
	}
	content := checkBlobs(t, r)
	got := fr.requests(testDigest(t, big))
	if len(got) != 2 || got[0].rng != "" || !strings.HasPrefix(got[1].rng, "bytes=") || strings.HasPrefix(got[1].rng, "bytes=0-") {
		t.Fatalf("requests of the cut layer %+v, want a whole one then one from where it stopped", got)
	}
	var from, to int64
	if _, err := fmt.Sscanf(got[1].rng, "bytes=%d-%d", &from, &to); err != nil || to != int64(len(content[testDigest(t, big)]))-1 {
		t.Errorf("second request's range %q does not run to the end of the layer", got[1].rng)
	}
	if n := len(fr.requests(testDigest(t, small))); n != 1 {
		t.Errorf("the other layer fetched %d times, want once", n)
	}
}

// TestFetcherGivesUp: a layer the registry does not have fails to open
// with the registry's answer, asked for once; a layer whose every
// connection drops fails after a bounded number of attempts.
func TestFetcherGivesUp(t *testing.T) {
	fr := newFetchRegistry(t)
	layer := randomLayer(t, 64<<10)
	ref := fr.host + "/svc/gone:1.0"
	if err := remote.Write(testRef(t, ref), testImage(t, "linux/amd64", layer)); err != nil {
		t.Fatal(err)
	}
	missing := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}, Size: 10, MediaType: types.OCILayer}
	f := NewFetcher(context.Background(), FetchOptions{Dir: t.TempDir()})
	defer f.Close()
	repo := testRef(t, ref).Context()
	if _, err := f.add(ref, repo, testOptions(), missing)(); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("opening a missing layer: %v, want not found", err)
	}
	if n := len(fr.requests(missing.Digest)); n != 1 {
		t.Errorf("a missing layer was asked for %d times, want once", n)
	}

	f2 := NewFetcher(context.Background(), FetchOptions{Dir: t.TempDir()})
	defer f2.Close()
	d := v1.Descriptor{Digest: testDigest(t, layer), Size: 64 << 10, MediaType: types.OCILayer}
	fr.mu.Lock()
	fr.cut[d.Digest.String()] = fetchAttempts + 1
	fr.mu.Unlock()
	_, err := f2.add(ref, repo, testOptions(), d)()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("after %d attempts", fetchAttempts)) {
		t.Errorf("a layer whose connections all drop: %v", err)
	}
	if n := len(fr.requests(d.Digest)); n != fetchAttempts {
		t.Errorf("a layer whose connections all drop was asked for %d times, want %d", n, fetchAttempts)
	}
}

// TestFetcherRefusesForgedContent: a registry that sends other bytes
// under a layer's digest, or more bytes than the manifest declares, fails
// the layer's fetch; nothing of it reaches the reader.
func TestFetcherRefusesForgedContent(t *testing.T) {
	fr := newFetchRegistry(t)
	layer := randomLayer(t, 64<<10)
	ref := fr.host + "/svc/forged:1.0"
	if err := remote.Write(testRef(t, ref), testImage(t, "linux/amd64", layer)); err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	orig, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Descriptor{Digest: testDigest(t, layer), Size: int64(len(orig)), MediaType: types.OCILayer}
	other := append([]byte(nil), orig...)
	other[len(other)/2] ^= 1
	for _, c := range []struct {
		name, want string
		body       []byte
	}{
		{"changed byte", "digest", other},
		{"one byte more", "declares", append(append([]byte(nil), orig...), 0)},
	} {
		fr.mu.Lock()
		fr.forged[d.Digest.String()] = c.body
		fr.mu.Unlock()
		f := NewFetcher(context.Background(), FetchOptions{Dir: t.TempDir()})
		_, err := f.add(ref, testRef(t, ref).Context(), testOptions(), d)()
		f.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
