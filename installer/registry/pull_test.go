package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPullImage pulls every tagged image with go-containerregistry and checks
// that what arrives is, layer for layer, what the store holds.
func TestPullImage(t *testing.T) {
	f := newFixture(t)
	for ref, want := range f.images {
		t.Run(ref, func(t *testing.T) {
			got, err := remote.Image(f.ref(t, ref))
			if err != nil {
				t.Fatal(err)
			}
			readImage(t, got)
			sameDigest(t, "manifest", got, want)
			gotCfg, _ := got.ConfigName()
			wantCfg, _ := want.ConfigName()
			if gotCfg != wantCfg {
				t.Errorf("config %s, want %s", gotCfg, wantCfg)
			}
			gotLayers, err := got.Layers()
			if err != nil {
				t.Fatal(err)
			}
			wantLayers, err := want.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(gotLayers) != len(wantLayers) {
				t.Fatalf("%d layers, want %d", len(gotLayers), len(wantLayers))
			}
			for i := range gotLayers {
				sameDigest(t, fmt.Sprintf("layer %d", i), gotLayers[i], wantLayers[i])
			}
		})
	}
}

func TestPullIndex(t *testing.T) {
	f := newFixture(t)
	got, err := remote.Index(f.ref(t, "wf/multi:2.0"))
	if err != nil {
		t.Fatal(err)
	}
	sameDigest(t, "index", got, f.multi)
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		// Each child by digest, as a runtime picking its platform does.
		img, err := remote.Image(f.ref(t, "wf/multi@"+d.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		readImage(t, img)
		sameDigest(t, "child", img, digestOf(d.Digest))
	}
}

func TestPullByDigest(t *testing.T) {
	f := newFixture(t)
	want := f.images["wf/api:1.1.0"]
	h, _ := want.Digest()
	got, err := remote.Image(f.ref(t, "wf/api@"+h.String()))
	if err != nil {
		t.Fatal(err)
	}
	readImage(t, got)
	sameDigest(t, "manifest", got, want)
}

func TestManifestHeaders(t *testing.T) {
	f := newFixture(t)
	img := f.images["library/nginx:1.25"]
	raw, _ := img.RawManifest()
	h, _ := img.Digest()
	mt, _ := img.MediaType()
	for _, ref := range []string{"1.25", h.String()} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+ref, func(t *testing.T) {
				resp, body := f.do(t, method, "/v2/library/nginx/manifests/"+ref, nil)
				wantStatus(t, resp, http.StatusOK)
				wantHeader(t, resp, "Content-Type", string(mt))
				wantHeader(t, resp, "Content-Length", strconv.Itoa(len(raw)))
				wantHeader(t, resp, "Docker-Content-Digest", h.String())
				wantHeader(t, resp, "Docker-Distribution-API-Version", "registry/2.0")
				want := raw
				if method == http.MethodHead {
					want = nil
				}
				if !bytes.Equal(body, want) {
					t.Errorf("body %q, want %q", body, want)
				}
			})
		}
	}
}

func TestBlobHeadAndRange(t *testing.T) {
	f := newFixture(t)
	img := f.images["wf/api:1.0.0"]
	layers, _ := img.Layers()
	l := layers[1]
	h, _ := l.Digest()
	rc, _ := l.Compressed()
	content, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	path := "/v2/wf/api/blobs/" + h.String()

	resp, body := f.do(t, http.MethodHead, path, nil)
	wantStatus(t, resp, http.StatusOK)
	wantHeader(t, resp, "Content-Length", strconv.Itoa(len(content)))
	wantHeader(t, resp, "Docker-Content-Digest", h.String())
	if len(body) != 0 {
		t.Errorf("HEAD returned %d bytes of body", len(body))
	}

	resp, body = f.do(t, http.MethodGet, path, http.Header{"Range": {"bytes=10-109"}})
	wantStatus(t, resp, http.StatusPartialContent)
	wantHeader(t, resp, "Content-Range", fmt.Sprintf("bytes 10-109/%d", len(content)))
	if !bytes.Equal(body, content[10:110]) {
		t.Errorf("range returned the wrong bytes")
	}

	resp, _ = f.do(t, http.MethodGet, path, http.Header{"If-None-Match": {`"` + h.String() + `"`}})
	wantStatus(t, resp, http.StatusNotModified)

	// A manifest is a blob too, and clients such as crane read it that way.
	raw, _ := img.RawManifest()
	resp, body = f.do(t, http.MethodGet, "/v2/wf/api/blobs/"+f.subj.String(), nil)
	wantStatus(t, resp, http.StatusOK)
	if !bytes.Equal(body, raw) {
		t.Errorf("manifest through the blobs endpoint differs from the stored one")
	}
}

// TestErrors checks that each failure gets the specification's status and
// code, including requests that try to leave the store or its repository.
func TestErrors(t *testing.T) {
	f := newFixture(t)
	nginxLayers, _ := f.images["library/nginx:1.25"].Layers()
	nginxLayer, _ := nginxLayers[0].Digest()
	nginxManifest, _ := f.images["library/nginx:1.25"].Digest()
	unknown := "sha256:" + string(bytes.Repeat([]byte("ab"), 32))
	sha512 := "sha512:" + string(bytes.Repeat([]byte("cd"), 64))

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v2/wf/api/manifests/9.9.9", 404, "MANIFEST_UNKNOWN"},
		{"/v2/wf/api/manifests/" + unknown, 404, "MANIFEST_UNKNOWN"},
		{"/v2/wf/api/manifests/" + sha512, 404, "MANIFEST_UNKNOWN"},
		{"/v2/wf/api/manifests/" + nginxManifest.String(), 404, "MANIFEST_UNKNOWN"}, // another repository's
		{"/v2/wf/api/manifests/sha256:baddigeststring", 400, "DIGEST_INVALID"},
		{"/v2/wf/api/manifests/SHA256:" + unknown[7:], 400, "DIGEST_INVALID"},
		{"/v2/wf/api/manifests/-bad", 404, "MANIFEST_UNKNOWN"},
		{"/v2/wf/nope/manifests/1.0.0", 404, "NAME_UNKNOWN"},
		{"/v2/wf/nope/tags/list", 404, "NAME_UNKNOWN"},
		{"/v2/wf/nope/blobs/" + unknown, 404, "NAME_UNKNOWN"},
		{"/v2/wf/api/blobs/" + unknown, 404, "BLOB_UNKNOWN"},
		{"/v2/wf/api/blobs/" + sha512, 404, "BLOB_UNKNOWN"},
		{"/v2/wf/api/blobs/" + nginxLayer.String(), 404, "BLOB_UNKNOWN"}, // another repository's
		{"/v2/wf/api/blobs/" + unknown[:70], 400, "DIGEST_INVALID"},
		{"/v2/wf/api/blobs/" + strings.ToUpper(unknown), 400, "DIGEST_INVALID"},
		{"/v2/WF/api/tags/list", 400, "NAME_INVALID"},
		{"/v2/wf//api/tags/list", 400, "NAME_INVALID"},
		{"/v2/wf/api/referrers/sha256:xyz", 400, "DIGEST_INVALID"},
		// Attempts to reach files outside the store.
		{"/v2/../x", 404, "UNSUPPORTED"},
		{"/v2/wf/api/blobs/sha256:../../etc/passwd", 400, "DIGEST_INVALID"},
		{"/v2/wf/api/blobs/sha256:../../../../index.json", 400, "DIGEST_INVALID"},
		{"/v2/wf/api/manifests/sha256:..%2F..%2Findex.json", 400, "DIGEST_INVALID"},
		{"/v2/../../etc/blobs/" + unknown, 400, "NAME_INVALID"},
		{"/v2/wf/%2E%2E/blobs/" + unknown, 400, "NAME_INVALID"},
		{"/v2/wf/api/blobs/sha256:%2E%2E%2F%2E%2E%2Foci-layout", 400, "DIGEST_INVALID"},
		{"/v2/wf/api/uploads/x", 404, "UNSUPPORTED"},
		{"/v3/", 404, "UNSUPPORTED"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+tc.path, func(t *testing.T) {
				resp, body := f.do(t, method, tc.path, nil)
				wantStatus(t, resp, tc.status)
				if method == http.MethodHead {
					return
				}
				wantHeader(t, resp, "Content-Type", "application/json; charset=utf-8")
				wantCode(t, body, tc.code)
			})
		}
	}
}

// TestWritesRefused checks that no write method changes the store, whatever
// the path.
func TestWritesRefused(t *testing.T) {
	f := newFixture(t)
	before := readFile(t, f.dir+"/index.json")
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, "/v2/wf/api/manifests/1.0.0"},
		{http.MethodPut, "/v2/wf/api/manifests/new"},
		{http.MethodPost, "/v2/wf/api/blobs/uploads/"},
		{http.MethodPost, "/v2/wf/api/blobs/uploads/?mount=" + f.subj.String() + "&from=library/nginx"},
		{http.MethodPatch, "/v2/wf/api/blobs/uploads/abc"},
		{http.MethodPut, "/v2/wf/api/blobs/uploads/abc?digest=" + f.subj.String()},
		{http.MethodDelete, "/v2/wf/api/manifests/" + f.subj.String()},
		{http.MethodDelete, "/v2/wf/api/manifests/1.0.0"},
		{http.MethodDelete, "/v2/wf/api/blobs/" + f.subj.String()},
		{http.MethodOptions, "/v2/"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := f.do(t, tc.method, tc.path, nil)
			wantStatus(t, resp, http.StatusMethodNotAllowed)
			wantHeader(t, resp, "Allow", "GET, HEAD")
			wantCode(t, body, "UNSUPPORTED")
		})
	}
	if !bytes.Equal(before, readFile(t, f.dir+"/index.json")) {
		t.Error("index.json changed")
	}
	if _, err := remote.Image(f.ref(t, "wf/api:1.0.0")); err != nil {
		t.Errorf("image no longer pullable: %v", err)
	}
}

func TestBase(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/v2/", "/v2"} {
		resp, body := f.do(t, http.MethodGet, path, nil)
		wantStatus(t, resp, http.StatusOK)
		wantHeader(t, resp, "Docker-Distribution-API-Version", "registry/2.0")
		if string(body) != "{}" {
			t.Errorf("%s: body %q", path, body)
		}
	}
	if _, err := remote.Head(f.ref(t, "wf/api:1.0.0")); err != nil {
		t.Errorf("go-containerregistry does not accept the registry: %v", err)
	}
}

// do sends one request to the fixture's server and returns the response and
// its body. The path is sent as given, without cleaning.
func (f *fixture) do(t *testing.T, method, path string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func wantStatus(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status)
	}
}

func wantHeader(t *testing.T, resp *http.Response, key, val string) {
	t.Helper()
	if got := resp.Header.Get(key); got != val {
		t.Errorf("%s: %q, want %q", key, got, val)
	}
}

func wantCode(t *testing.T, body []byte, code string) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not the specification's JSON: %v", body, err)
	}
	if len(e.Errors) != 1 || e.Errors[0].Code != code || e.Errors[0].Message == "" {
		t.Errorf("error body %s, want code %s", body, code)
	}
}

type digester interface{ Digest() (v1.Hash, error) }

func sameDigest(t *testing.T, what string, got, want digester) {
	t.Helper()
	g, err := got.Digest()
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if g != w {
		t.Errorf("%s: digest %s, want %s", what, g, w)
	}
}

// readImage reads the config and every layer of an image pulled with
// go-containerregistry, which checks each against its digest as it reads.
func readImage(t *testing.T, img v1.Image) {
	t.Helper()
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatalf("config: %v", err)
	}
	if err := readLayers(img); err != nil {
		t.Fatal(err)
	}
}

type digestOf v1.Hash

func (d digestOf) Digest() (v1.Hash, error) { return v1.Hash(d), nil }
