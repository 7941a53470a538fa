package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"ferry/internal/oci"
)

// FuzzParseRoute checks that every request path is either refused with one
// of the two errors parseRoute may give, or split into a valid repository
// name and a reference that put back together are the path itself, with the
// last endpoint keyword ending the name.
func FuzzParseRoute(f *testing.F) {
	for _, p := range []string{
		"/v2", "/v2/", "/v2/_catalog", "/v3/", "/v2/../x", "",
		"/v2/wf/api/tags/list",
		"/v2/wf/api/manifests/1.0.0",
		"/v2/wf/api/blobs/sha256:" + strings.Repeat("ab", 32),
		"/v2/wf/api/referrers/sha256:" + strings.Repeat("cd", 32),
		"/v2/a/blobs/b/manifests/c",
		"/v2/a/manifests/b/tags/list",
		"/v2/wf//api/tags/list",
		"/v2/WF/api/blobs/x",
		"/v2/wf/api/blobs/sha256:../../etc/passwd",
		"/v2/" + strings.Repeat("a/", 130) + "tags/list",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, aerr := parseRoute(path)
		if aerr != nil {
			unsupported := aerr.status == http.StatusNotFound && aerr.code == codeUnsupported
			invalid := aerr.status == http.StatusBadRequest && aerr.code == codeNameInvalid
			if !unsupported && !invalid {
				t.Fatalf("parseRoute(%q): error %d %s", path, aerr.status, aerr.code)
			}
			if aerr.message == "" {
				t.Fatalf("parseRoute(%q): error without a message", path)
			}
			return
		}
		var want string
		switch rt.endpoint {
		case endpointBase:
			if path != "/v2" && path != "/v2/" {
				t.Fatalf("parseRoute(%q) is the base endpoint", path)
			}
			return
		case endpointCatalog:
			if path != "/v2/_catalog" {
				t.Fatalf("parseRoute(%q) is the catalog", path)
			}
			return
		case endpointTags:
			want = "/v2/" + rt.name + "/tags/list"
			if rt.ref != "" {
				t.Fatalf("parseRoute(%q): tag list with reference %q", path, rt.ref)
			}
		case endpointManifest:
			want = "/v2/" + rt.name + "/manifests/" + rt.ref
		case endpointBlob:
			want = "/v2/" + rt.name + "/blobs/" + rt.ref
		case endpointReferrers:
			want = "/v2/" + rt.name + "/referrers/" + rt.ref
		default:
			t.Fatalf("parseRoute(%q): endpoint %d", path, rt.endpoint)
		}
		if !oci.ValidRepository(rt.name) {
			t.Fatalf("parseRoute(%q): invalid name %q accepted", path, rt.name)
		}
		if path != want {
			t.Fatalf("parseRoute(%q) = %+v, which is the path %q", path, rt, want)
		}
		for _, k := range []string{"/manifests/", "/blobs/", "/referrers/"} {
			if strings.Contains(rt.ref, k) {
				t.Fatalf("parseRoute(%q): reference %q holds %q, so the name ended too early", path, rt.ref, k)
			}
		}
		if rt.endpoint != endpointTags && strings.HasSuffix(path, "/tags/list") {
			t.Fatalf("parseRoute(%q): a tag list path read as endpoint %d", path, rt.endpoint)
		}
	})
}

// specDigestRE is the distribution specification's digest grammar, written
// out again here so that parseDigest is compared with the text, not with
// itself.
var specDigestRE = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)

// FuzzNames checks the digest check on any string (the name grammar is
// internal/oci's, fuzzed there by FuzzParseRefName). A digest the registry
// accepts must map to a file directly inside the blob directory: it is the
// only client-supplied value that becomes part of a path.
func FuzzNames(f *testing.F) {
	d := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{
		d, "sha512:" + strings.Repeat("ab", 64), "sha256:" + strings.Repeat("AB", 32), "sha256:../../x",
		"sha256:", "sha384:" + strings.Repeat("ab", 48), "sha256:" + d[len("sha256:"):] + "0", "wf/api@" + d,
	} {
		f.Add(s)
	}
	st := &store{dir: filepath.Join("store", "root")}
	blobDir := filepath.Join(st.dir, "blobs", "sha256")
	f.Fuzz(func(t *testing.T, s string) {
		switch parseDigest(s) {
		case digestSHA256:
			if !strings.HasPrefix(s, "sha256:") || !specDigestRE.MatchString(s) {
				t.Fatalf("parseDigest(%q): sha256", s)
			}
			p := st.blobPath(s)
			if filepath.Dir(p) != blobDir || filepath.Base(p) != s[len("sha256:"):] {
				t.Fatalf("digest %q is stored at %q, outside %q", s, p, blobDir)
			}
		case digestForeign:
			if !strings.HasPrefix(s, "sha512:") || !specDigestRE.MatchString(s) {
				t.Fatalf("parseDigest(%q): another algorithm", s)
			}
		default:
			if specDigestRE.MatchString(s) {
				t.Fatalf("parseDigest(%q): invalid", s)
			}
		}
	})
}

// FuzzPaginate checks the n and last query parameters against a sorted
// list: each page is the next run of entries after last, at most n long,
// a Link header is sent exactly when entries remain, and following the
// links yields every remaining entry once, in order.
func FuzzPaginate(f *testing.F) {
	f.Add("a,b,c,d,e", "n=2")
	f.Add("a,b,c,d,e", "n=2&last=b")
	f.Add("a,b,c", "last=zz")
	f.Add("a,b,c", "n=0")
	f.Add("a,b,c", "n=-1")
	f.Add("a,b,c", "n=x&last=a")
	f.Add("wf/api,wf/multi,library/nginx", "n=1&last=")
	f.Add("", "n=5")
	f.Fuzz(func(t *testing.T, list, rawQuery string) {
		all := slices.Compact(slices.Sorted(slices.Values(strings.Split(list, ","))))
		const path = "/v2/_catalog"
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: rawQuery}}
		w := httptest.NewRecorder()
		page, aerr := paginate(w, r, all)
		q := r.URL.Query()
		if aerr != nil {
			n, err := strconv.Atoi(q.Get("n"))
			if !q.Has("n") || (err == nil && n >= 0) {
				t.Fatalf("query %q refused: %v", rawQuery, aerr)
			}
			if aerr.status != http.StatusBadRequest || aerr.code != codeUnsupported {
				t.Fatalf("query %q: error %d %s", rawQuery, aerr.status, aerr.code)
			}
			return
		}
		start := 0
		if q.Has("last") {
			last := q.Get("last")
			start = sort.Search(len(all), func(i int) bool { return all[i] > last })
		}
		if len(page) > len(all)-start || !slices.Equal(page, all[start:start+len(page)]) {
			t.Fatalf("query %q over %q: page %q does not follow last", rawQuery, all, page)
		}
		link := w.Header().Get("Link")
		if !q.Has("n") {
			if len(page) != len(all)-start || link != "" {
				t.Fatalf("query %q over %q: page %q, link %q without n", rawQuery, all, page, link)
			}
			return
		}
		n, _ := strconv.Atoi(q.Get("n"))
		if len(page) != min(n, len(all)-start) {
			t.Fatalf("query %q over %q: %d entries", rawQuery, all, len(page))
		}
		if remain := n > 0 && start+len(page) < len(all); remain != (link != "") {
			t.Fatalf("query %q over %q: page %q, link %q", rawQuery, all, page, link)
		}
		if n == 0 {
			return
		}
		got := slices.Clone(page)
		for link != "" {
			target, open := strings.CutPrefix(link, "<")
			target, closed := strings.CutSuffix(target, `>; rel="next"`)
			if !open || !closed {
				t.Fatalf("malformed Link %q", link)
			}
			u, err := url.Parse(target)
			if err != nil || u.Path != path {
				t.Fatalf("Link %q: %v", link, err)
			}
			w = httptest.NewRecorder()
			next, aerr := paginate(w, &http.Request{Method: http.MethodGet, URL: u}, all)
			if aerr != nil || len(next) == 0 {
				t.Fatalf("following Link %q: %q, %v", link, next, aerr)
			}
			got = append(got, next...)
			if len(got) > len(all) {
				t.Fatalf("following the links from %q over %q yields %q", rawQuery, all, got)
			}
			link = w.Header().Get("Link")
		}
		if !slices.Equal(got, all[start:]) {
			t.Fatalf("following the links from %q over %q yields %q", rawQuery, all, got)
		}
	})
}

// checkErrorBody checks an error answer: the specification's JSON body
// with one error, whose code is one the status allows.
func checkErrorBody(t *testing.T, status int, hdr http.Header, body []byte, head bool) {
	t.Helper()
	if ct := hdr.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("status %d: Content-Type %q", status, ct)
	}
	if head {
		if len(body) != 0 {
			t.Fatalf("HEAD: status %d with %d bytes of body", status, len(body))
		}
		return
	}
	if hdr.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("status %d: Content-Length %q for %d bytes", status, hdr.Get("Content-Length"), len(body))
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("status %d: error body %q is not the specification's JSON: %v", status, body, err)
	}
	if len(e.Errors) != 1 || e.Errors[0].Message == "" {
		t.Fatalf("status %d: error body %s", status, body)
	}
	allowed := map[int][]string{
		http.StatusBadRequest:       {codeDigestInvalid, codeNameInvalid, codeUnsupported},
		http.StatusNotFound:         {codeBlobUnknown, codeManifestUnknown, codeNameUnknown, codeUnsupported},
		http.StatusMethodNotAllowed: {codeUnsupported},
	}[status]
	if !slices.Contains(allowed, e.Errors[0].Code) {
		t.Fatalf("status %d with code %s", status, e.Errors[0].Code)
	}
}
