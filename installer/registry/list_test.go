package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestTagsList(t *testing.T) {
	f := newFixture(t)
	all := []string{"1.0.0", "1.1.0", "1.2.0", "latest"}
	for _, tc := range []struct {
		query string
		tags  []string
		link  string
	}{
		{"", all, ""},
		{"?n=10", all, ""},
		{"?n=4", all, ""},
		{"?n=2", all[:2], `</v2/wf/api/tags/list?last=1.1.0&n=2>; rel="next"`},
		{"?n=2&last=1.1.0", all[2:], ""},
		{"?n=1&last=1.1.0", all[2:3], `</v2/wf/api/tags/list?last=1.2.0&n=1>; rel="next"`},
		{"?last=1.0.0", all[1:], ""},
		{"?last=1.0.5", all[1:], ""}, // need not be a tag
		{"?last=zzz", []string{}, ""},
		{"?n=0", []string{}, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := f.do(t, http.MethodGet, "/v2/wf/api/tags/list"+tc.query, nil)
			wantStatus(t, resp, http.StatusOK)
			wantHeader(t, resp, "Content-Type", "application/json")
			wantHeader(t, resp, "Link", tc.link)
			var got tagList
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Name != "wf/api" || got.Tags == nil || !slices.Equal(got.Tags, tc.tags) {
				t.Errorf("got %s, want tags %q", body, tc.tags)
			}
		})
	}
	for _, q := range []string{"?n=-1", "?n=x", "?n="} {
		resp, body := f.do(t, http.MethodGet, "/v2/wf/api/tags/list"+q, nil)
		wantStatus(t, resp, http.StatusBadRequest)
		wantCode(t, body, "UNSUPPORTED")
	}

	// go-containerregistry follows the Link header page by page.
	repo, _ := name.NewRepository(f.host+"/wf/api", name.Insecure)
	tags, err := remote.List(repo, remote.WithPageSize(1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags, all) {
		t.Errorf("remote.List: %q, want %q", tags, all)
	}
}

func TestCatalog(t *testing.T) {
	f := newFixture(t)
	all := []string{"library/nginx", "wf/api", "wf/multi"}
	for _, tc := range []struct {
		query string
		repos []string
		link  string
	}{
		{"", all, ""},
		{"?n=1", all[:1], `</v2/_catalog?last=library%2Fnginx&n=1>; rel="next"`},
		{"?n=1&last=library/nginx", all[1:2], `</v2/_catalog?last=wf%2Fapi&n=1>; rel="next"`},
		{"?n=5&last=wf/api", all[2:], ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := f.do(t, http.MethodGet, "/v2/_catalog"+tc.query, nil)
			wantStatus(t, resp, http.StatusOK)
			wantHeader(t, resp, "Link", tc.link)
			var got catalog
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Repositories, tc.repos) {
				t.Errorf("got %s, want %q", body, tc.repos)
			}
		})
	}
	reg, _ := name.NewRegistry(f.host, name.Insecure)
	repos, err := remote.Catalog(context.Background(), reg, remote.WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(repos, all) {
		t.Errorf("remote.Catalog: %q, want %q", repos, all)
	}
}

func TestReferrers(t *testing.T) {
	f := newFixture(t)
	sigDigest, _ := f.sig.Digest()
	sigRaw, _ := f.sig.RawManifest()

	get := func(t *testing.T, path string) (*http.Response, index) {
		t.Helper()
		resp, body := f.do(t, http.MethodGet, path, nil)
		wantStatus(t, resp, http.StatusOK)
		wantHeader(t, resp, "Content-Type", "application/vnd.oci.image.index.v1+json")
		var idx index
		if err := json.Unmarshal(body, &idx); err != nil {
			t.Fatal(err)
		}
		if idx.SchemaVersion != 2 || idx.MediaType != "application/vnd.oci.image.index.v1+json" || idx.Manifests == nil {
			t.Fatalf("not an OCI index: %s", body)
		}
		return resp, idx
	}

	_, idx := get(t, "/v2/wf/api/referrers/"+f.subj.String())
	if len(idx.Manifests) != 1 {
		t.Fatalf("%d referrers, want 1", len(idx.Manifests))
	}
	d := idx.Manifests[0]
	if d.Digest != sigDigest.String() || d.Size != int64(len(sigRaw)) ||
		d.MediaType != "application/vnd.oci.image.manifest.v1+json" ||
		d.ArtifactType != sigArtifactType || d.Annotations["org.example.signed-by"] != "release" {
		t.Errorf("referrer %+v does not describe the signature %s", d, sigDigest)
	}

	resp, idx := get(t, "/v2/wf/api/referrers/"+f.subj.String()+"?artifactType="+url.QueryEscape(sigArtifactType))
	wantHeader(t, resp, "OCI-Filters-Applied", "artifactType")
	if len(idx.Manifests) != 1 {
		t.Errorf("filter on the signature's type dropped it")
	}
	resp, idx = get(t, "/v2/wf/api/referrers/"+f.subj.String()+"?artifactType=application/x-other")
	wantHeader(t, resp, "OCI-Filters-Applied", "artifactType")
	if len(idx.Manifests) != 0 {
		t.Errorf("filter on another type kept %d referrers", len(idx.Manifests))
	}

	// The specification forbids 404 here: unknown subjects and repositories
	// have no referrers.
	if _, idx := get(t, "/v2/wf/api/referrers/"+sigDigest.String()); len(idx.Manifests) != 0 {
		t.Errorf("signature has referrers")
	}
	if _, idx := get(t, "/v2/library/nginx/referrers/"+f.subj.String()); len(idx.Manifests) != 0 {
		t.Errorf("referrers leak across repositories")
	}
	get(t, "/v2/no/such/repo/referrers/"+f.subj.String())

	// The signature itself is pullable by digest and go-containerregistry
	// finds it through the referrers API.
	if _, err := remote.Image(f.ref(t, "wf/api@"+sigDigest.String())); err != nil {
		t.Fatal(err)
	}
	subj, _ := name.NewDigest(f.host+"/wf/api@"+f.subj.String(), name.Insecure)
	refs, err := remote.Referrers(subj)
	if err != nil {
		t.Fatal(err)
	}
	im, err := refs.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != sigDigest {
		t.Errorf("remote.Referrers: %+v", im.Manifests)
	}
}
