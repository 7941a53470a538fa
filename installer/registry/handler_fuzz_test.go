package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fuzzStore is a content store for FuzzHandler, built as newFixture builds
// one but from a fixed random seed, so that the digests in the seed corpus
// name the same content on every run. Beside the store it keeps what each
// repository may serve, worked out from the images put in, not from the
// registry's own snapshot.
type fuzzStore struct {
	dir       string
	content   map[string][]byte            // every file in blobs/sha256, by digest
	blobs     map[string]map[string]bool   // repository to the digests its blobs endpoint may serve
	manifests map[string]map[string]bool   // repository to its manifest and index digests
	tags      map[string]map[string]string // repository to tag to manifest digest
	secret    []byte                       // the content of files outside the blob directory

	// Digests the seeds use.
	api, apiLayer, sig, nginxLayer, missing, orphan string
}

// newFuzzStore writes a store holding:
//
//	wf/api:1.0.0, latest   one random image
//	wf/api@sha256:…        a signature artifact whose subject is wf/api:1.0.0
//	library/nginx:1.25     a random image with OCI media types, its first layer missing
//	wf/multi:2.0           an index of two images
//
// and, in no repository, an orphan blob in blobs/sha256 and a secret file
// in the store's directory and in its parent.
func newFuzzStore(tb testing.TB) *fuzzStore {
	tb.Helper()
	root := tb.TempDir()
	s := &fuzzStore{
		dir:       filepath.Join(root, "store"),
		content:   map[string][]byte{},
		blobs:     map[string]map[string]bool{},
		manifests: map[string]map[string]bool{},
		tags:      map[string]map[string]string{},
		secret:    []byte("secret: not a blob, never to be served"),
	}
	lp, err := layout.Write(s.dir, empty.Index)
	if err != nil {
		tb.Fatal(err)
	}
	rnd := random.WithSource(rand.NewSource(1))
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}

	api, err := random.Image(512, 2, rnd)
	check(err)
	for _, tag := range []string{"1.0.0", "latest"} {
		check(lp.AppendImage(api, layout.WithAnnotations(refName("wf/api:"+tag))))
		s.addImage(tb, "wf/api", tag, api)
	}
	s.api = digestString(tb, api)
	apiLayers, err := api.Layers()
	check(err)
	s.apiLayer = digestString(tb, apiLayers[1])

	subj, err := partial.Descriptor(api)
	check(err)
	sig, err := random.Image(64, 1, rnd)
	check(err)
	sig = mutate.ConfigMediaType(mutate.MediaType(sig, types.OCIManifestSchema1), sigArtifactType)
	sig = mutate.Subject(sig, *subj).(v1.Image)
	s.sig = digestString(tb, sig)
	check(lp.AppendImage(sig, layout.WithAnnotations(refName("wf/api@"+s.sig))))
	s.addImage(tb, "wf/api", "", sig)

	nginx, err := random.Image(256, 2, rnd)
	check(err)
	nginx = mutate.ConfigMediaType(mutate.MediaType(nginx, types.OCIManifestSchema1), types.OCIConfigJSON)
	check(lp.AppendImage(nginx, layout.WithAnnotations(refName("library/nginx:1.25"))))
	s.addImage(tb, "library/nginx", "1.25", nginx)
	nginxLayers, err := nginx.Layers()
	check(err)
	s.missing = digestString(tb, nginxLayers[0])
	s.nginxLayer = digestString(tb, nginxLayers[1])
	check(os.Remove(filepath.Join(s.dir, "blobs", "sha256", s.missing[len("sha256:"):])))

	multi, err := random.Index(128, 1, 2, rnd)
	check(err)
	check(lp.AppendIndex(multi, layout.WithAnnotations(refName("wf/multi:2.0"))))
	s.addIndex(tb, "wf/multi", "2.0", multi)

	orphan, err := random.Layer(64, types.OCILayer, rnd)
	check(err)
	s.orphan = digestString(tb, orphan)
	rc, err := orphan.Compressed()
	check(err)
	check(lp.WriteBlob(v1.Hash{Algorithm: "sha256", Hex: s.orphan[len("sha256:"):]}, rc))

	check(os.WriteFile(filepath.Join(s.dir, "secret"), s.secret, 0o644))
	check(os.WriteFile(filepath.Join(root, "secret"), s.secret, 0o644))

	blobDir := filepath.Join(s.dir, "blobs", "sha256")
	entries, err := os.ReadDir(blobDir)
	check(err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(blobDir, e.Name()))
		check(err)
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != e.Name() {
			tb.Fatalf("blob %s has the wrong content", e.Name())
		}
		s.content["sha256:"+e.Name()] = b
	}
	return s
}

func digestString(tb testing.TB, x interface{ Digest() (v1.Hash, error) }) string {
	tb.Helper()
	h, err := x.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return h.String()
}

// addImage records that repo serves img, under tag unless it is empty.
func (s *fuzzStore) addImage(tb testing.TB, repo, tag string, img v1.Image) {
	tb.Helper()
	d := digestString(tb, img)
	s.addManifest(repo, tag, d)
	cfg, err := img.ConfigName()
	if err != nil {
		tb.Fatal(err)
	}
	s.blobs[repo][cfg.String()] = true
	layers, err := img.Layers()
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range layers {
		s.blobs[repo][digestString(tb, l)] = true
	}
}

// addIndex records that repo serves idx and everything it holds.
func (s *fuzzStore) addIndex(tb testing.TB, repo, tag string, idx v1.ImageIndex) {
	tb.Helper()
	s.addManifest(repo, tag, digestString(tb, idx))
	im, err := idx.IndexManifest()
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range im.Manifests {
		img, err := idx.Image(c.Digest)
		if err != nil {
			tb.Fatal(err)
		}
		s.addImage(tb, repo, "", img)
	}
}

func (s *fuzzStore) addManifest(repo, tag, digest string) {
	if s.manifests[repo] == nil {
		s.manifests[repo], s.blobs[repo], s.tags[repo] = map[string]bool{}, map[string]bool{}, map[string]string{}
	}
	s.manifests[repo][digest] = true
	s.blobs[repo][digest] = true
	if tag != "" {
		s.tags[repo][tag] = digest
	}
}

// FuzzHandler sends the registry requests with any method, path, query and
// Accept, Range and If-None-Match headers, and checks each answer against
// what the store holds:
//
//   - the status is one the registry documents, and never 500, since the
//     store is sound;
//   - an error is the specification's JSON error body, except a 416, which
//     http.ServeContent answers in plain text;
//   - HEAD gets no body;
//   - a manifest or blob answer names a digest that the repository in the
//     path holds, the one the request asked for, and its bytes (or the
//     ranges asked for) are exactly the stored blob's, whose sha256 is
//     that digest;
//   - no answer carries a file from outside the blob directory.
func FuzzHandler(f *testing.F) {
	s := newFuzzStore(f)
	h := Handler(s.dir, Options{})

	const get, head = http.MethodGet, http.MethodHead
	ociManifest := "application/vnd.oci.image.manifest.v1+json"
	for _, tc := range []struct{ method, path, query, accept, rng, inm string }{
		{get, "/v2/", "", "", "", ""},
		{get, "/v2/_catalog", "n=1&last=library/nginx", "", "", ""},
		{get, "/v2/wf/api/tags/list", "n=1", "", "", ""},
		{get, "/v2/wf/api/manifests/1.0.0", "", ociManifest, "", ""},
		{head, "/v2/wf/multi/manifests/2.0", "", "", "", ""},
		{head, "/v2/wf/multi/manifests/2.0", "", "", "bytes=0", ""},
		{get, "/v2/wf/api/manifests/" + s.api, "", "", "bytes=0-9", ""},
		{get, "/v2/wf/api/blobs/" + s.apiLayer, "", "", "bytes=10-109", ""},
		{get, "/v2/wf/api/blobs/" + s.apiLayer, "", "", "bytes=0-0,5-9,-3", ""},
		{get, "/v2/wf/api/blobs/" + s.apiLayer, "", "", "bytes=99999-", ""},
		{get, "/v2/wf/api/blobs/" + s.apiLayer, "", "", "", `"` + s.apiLayer + `"`},
		{get, "/v2/wf/api/referrers/" + s.api, "artifactType=" + url.QueryEscape(sigArtifactType), "", "", ""},
		{get, "/v2/wf/api/blobs/" + s.sig, "", "", "", ""},
		{get, "/v2/wf/api/blobs/" + s.nginxLayer, "", "", "", ""},
		{get, "/v2/library/nginx/blobs/" + s.missing, "", "", "", ""},
		{get, "/v2/library/nginx/blobs/" + s.orphan, "", "", "", ""},
		{get, "/v2/wf/api/blobs/sha256:../../secret", "", "", "", ""},
		{get, "/v2/../secret", "", "", "", ""},
		{http.MethodDelete, "/v2/wf/api/manifests/1.0.0", "", "", "", ""},
	} {
		f.Add(tc.method, tc.path, tc.query, tc.accept, tc.rng, tc.inm)
	}

	f.Fuzz(func(t *testing.T, method, path, rawQuery, accept, rng, inm string) {
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: path, RawQuery: rawQuery},
			Header: http.Header{},
			Host:   "registry.test",
		}
		for k, v := range map[string]string{"Accept": accept, "Range": rng, "If-None-Match": inm} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		res := w.Result()
		body := w.Body.Bytes()
		isHead := method == head
		if res.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Fatalf("status %d without Docker-Distribution-API-Version", res.StatusCode)
		}
		if bytes.Contains(body, s.secret) {
			t.Fatalf("%s %q: a file outside the blob directory was served", method, path)
		}
		if method != get && !isHead {
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("%s %q: status %d, Allow %q", method, path, res.StatusCode, res.Header.Get("Allow"))
			}
		}

		switch res.StatusCode {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
			checkErrorBody(t, res.StatusCode, res.Header, body, isHead)
			return
		case http.StatusRequestedRangeNotSatisfiable:
			// http.ServeContent's answer, in plain text, with the text
			// even for HEAD: net/http's server drops a HEAD body.
			if rng == "" {
				t.Fatalf("%s %q: 416 without a Range header", method, path)
			}
			return
		case http.StatusOK, http.StatusPartialContent, http.StatusNotModified:
		default:
			t.Fatalf("%s %q: status %d", method, path, res.StatusCode)
		}
		if isHead && len(body) != 0 {
			t.Fatalf("HEAD %q: %d bytes of body", path, len(body))
		}

		rt, aerr := parseRoute(path)
		if aerr != nil {
			t.Fatalf("%s %q: status %d for a path parseRoute refuses", method, path, res.StatusCode)
		}
		if rt.endpoint != endpointManifest && rt.endpoint != endpointBlob {
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s %q: status %d", method, path, res.StatusCode)
			}
			if !isHead {
				s.checkListing(t, rt, body)
			}
			return
		}

		d := res.Header.Get("Docker-Content-Digest")
		held := s.blobs[rt.name]
		if rt.endpoint == endpointManifest {
			held = s.manifests[rt.name]
		}
		if !held[d] {
			t.Fatalf("%s %q: served %q, which repository %s does not hold", method, path, d, rt.name)
		}
		if parseDigest(rt.ref) != digestInvalid {
			if rt.ref != d {
				t.Fatalf("%s %q: served %s", method, path, d)
			}
		} else if s.tags[rt.name][rt.ref] != d {
			t.Fatalf("%s %q: served %s for tag %s", method, path, d, rt.ref)
		}
		content, ok := s.content[d]
		if !ok {
			t.Fatalf("%s %q: served %s, which is not in the store", method, path, d)
		}
		switch {
		case isHead:
		case res.StatusCode == http.StatusOK:
			sum := sha256.Sum256(body)
			if "sha256:"+hex.EncodeToString(sum[:]) != d || !bytes.Equal(body, content) {
				t.Fatalf("%s %q: the body is not blob %s", method, path, d)
			}
			if res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("%s %q: Content-Length %q for %d bytes", method, path, res.Header.Get("Content-Length"), len(body))
			}
		case res.StatusCode == http.StatusPartialContent:
			if rng == "" {
				t.Fatalf("%s %q: 206 without a Range header", method, path)
			}
			checkRanges(t, res.Header, body, content)
		case res.StatusCode == http.StatusNotModified:
			if inm == "" || len(body) != 0 {
				t.Fatalf("%s %q: 304 with If-None-Match %q and %d bytes of body", method, path, inm, len(body))
			}
		}
	})
}

// checkListing checks a JSON answer of the base, catalog, tag list or
// referrers endpoint against what the store holds.
func (s *fuzzStore) checkListing(t *testing.T, rt route, body []byte) {
	t.Helper()
	switch rt.endpoint {
	case endpointBase:
		if string(body) != "{}" {
			t.Fatalf("base endpoint: %q", body)
		}
	case endpointCatalog:
		var c catalog
		if err := json.Unmarshal(body, &c); err != nil || c.Repositories == nil {
			t.Fatalf("catalog %q: %v", body, err)
		}
		for _, name := range c.Repositories {
			if s.manifests[name] == nil {
				t.Fatalf("catalog lists %q", name)
			}
		}
	case endpointTags:
		var tl tagList
		if err := json.Unmarshal(body, &tl); err != nil || tl.Name != rt.name || tl.Tags == nil {
			t.Fatalf("tags of %s: %q: %v", rt.name, body, err)
		}
		for _, tag := range tl.Tags {
			if _, ok := s.tags[rt.name][tag]; !ok {
				t.Fatalf("tags of %s list %q", rt.name, tag)
			}
		}
	case endpointReferrers:
		var idx index
		if err := json.Unmarshal(body, &idx); err != nil || idx.MediaType != mediaTypeOCIIndex || idx.Manifests == nil {
			t.Fatalf("referrers of %s: %q: %v", rt.ref, body, err)
		}
		for _, d := range idx.Manifests {
			if !s.manifests[rt.name][d.Digest] {
				t.Fatalf("referrers of %s in %s list %s", rt.ref, rt.name, d.Digest)
			}
		}
	default:
		t.Fatalf("endpoint %d", rt.endpoint)
	}
}

// checkRanges checks a 206 answer: each range, alone or as a part of a
// multipart/byteranges body, holds exactly the bytes its Content-Range names.
func checkRanges(t *testing.T, hdr http.Header, body, content []byte) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		checkRange(t, hdr.Get("Content-Range"), body, content)
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("multipart range answer: %v", err)
		}
		part, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("multipart range answer: %v", err)
		}
		checkRange(t, p.Header.Get("Content-Range"), part, content)
	}
}

func checkRange(t *testing.T, contentRange string, part, content []byte) {
	t.Helper()
	var first, last, size int
	if _, err := fmt.Sscanf(contentRange, "bytes %d-%d/%d", &first, &last, &size); err != nil {
		t.Fatalf("Content-Range %q: %v", contentRange, err)
	}
	if size != len(content) || first < 0 || last < first || last >= size || !bytes.Equal(part, content[first:last+1]) {
		t.Fatalf("Content-Range %q: %d bytes that are not that range of a %d-byte blob", contentRange, len(part), len(content))
	}
}
