package registry

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"ferry/internal/oci"
)

// fixture is a content store as ferry writes it, served on loopback.
type fixture struct {
	dir    string // the OCI layout
	layout layout.Path
	srv    *httptest.Server
	host   string // host:port of srv

	images map[string]v1.Image      // by full name with tag
	multi  v1.ImageIndex            // wf/multi:2.0
	sig    v1.Image                 // signature of wf/api:1.0.0, stored by digest only
	subj   v1.Hash                  // digest of wf/api:1.0.0
	others map[string]v1.Descriptor // other descriptors, by name
}

const sigArtifactType = "application/vnd.example.signature.v1+json"

// newFixture builds a store holding:
//
//	wf/api:1.0.0, 1.1.0, 1.2.0, latest  random images (latest = 1.2.0)
//	wf/api@sha256:…                     a signature artifact whose subject is wf/api:1.0.0
//	wf/multi:2.0                        an index of three images
//	library/nginx:1.25                  a random image with OCI media types
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, layout: lp, images: map[string]v1.Image{}, others: map[string]v1.Descriptor{}}
	for _, ref := range []string{"wf/api:1.0.0", "wf/api:1.1.0", "wf/api:1.2.0"} {
		img, err := random.Image(1024, 3)
		if err != nil {
			t.Fatal(err)
		}
		f.appendImage(t, ref, img)
	}
	f.appendImage(t, "wf/api:latest", f.images["wf/api:1.2.0"])

	nginx, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	nginx = mutate.ConfigMediaType(mutate.MediaType(nginx, types.OCIManifestSchema1), types.OCIConfigJSON)
	f.appendImage(t, "library/nginx:1.25", nginx)

	f.multi, err = random.Index(512, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(f.multi, layout.WithAnnotations(refName("wf/multi:2.0"))); err != nil {
		t.Fatal(err)
	}

	f.subj, err = f.images["wf/api:1.0.0"].Digest()
	if err != nil {
		t.Fatal(err)
	}
	subjDesc, err := partial.Descriptor(f.images["wf/api:1.0.0"])
	if err != nil {
		t.Fatal(err)
	}
	sig, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	sig = mutate.ConfigMediaType(mutate.MediaType(sig, types.OCIManifestSchema1), sigArtifactType)
	sig = mutate.Annotations(sig, map[string]string{"org.example.signed-by": "release"}).(v1.Image)
	f.sig = mutate.Subject(sig, *subjDesc).(v1.Image)
	sigDigest, err := f.sig.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(f.sig, layout.WithAnnotations(refName("wf/api@"+sigDigest.String()))); err != nil {
		t.Fatal(err)
	}

	f.serve(t, Handler(dir, Options{Logger: testLogger(t)}))
	return f
}

func (f *fixture) appendImage(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	if err := f.layout.AppendImage(img, layout.WithAnnotations(refName(ref))); err != nil {
		t.Fatal(err)
	}
	f.images[ref] = img
}

func (f *fixture) serve(t *testing.T, h http.Handler) {
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	f.host = strings.TrimPrefix(f.srv.URL, "http://")
}

// ref parses a reference on the fixture's registry.
func (f *fixture) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(f.host+"/"+s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func refName(ref string) map[string]string {
	return map[string]string{oci.RefNameAnnotation: ref}
}

// testLogger sends the handler's log to the test's log, so a store problem
// shows up beside the failure it caused.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
