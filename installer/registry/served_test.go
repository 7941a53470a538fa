package registry

import (
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/bundle/image"
	"ferry/internal/oci"
)

// TestServesEveryNameTheBuilderGives states the contract between ferry's
// builder and the appliance's registry: a bundle ferry builds is always
// servable. The builder names every image with image.ServedName, which
// refuses what oci.ParseRefName refuses, and the registry serves exactly
// the ref.name annotations oci.ParseRefName accepts: both sides accept a
// name through the same function, so their grammars cannot drift. Here the
// names the builder gives, including the ones at the edge of the grammar,
// are written into a store and fetched; the names it refuses, which
// go-containerregistry would take, are not served either.
func TestServesEveryNameTheBuilderGives(t *testing.T) {
	f := newFixture(t)
	dgst := f.subj.String()
	var served []string
	for _, tt := range []struct {
		ref string
		hub bool
	}{
		{"registry.example.com/wf/served:1.4.0", true},
		{"nginx", true},
		{"localhost:5000/a__b/c--d.e:_x", true},
		{"registry.example.com/wf/served-digest@" + dgst, true},
		{"wf/served-both:1.0@" + dgst, false},
		{"wf/" + strings.Repeat("a", oci.MaxRepositoryLength-len("wf/")) + ":" + strings.Repeat("v", 128), false},
		{"worker", false},
	} {
		s, err := image.ServedName(tt.ref, tt.hub)
		if err != nil {
			t.Fatalf("the builder refuses %q: %v", tt.ref, err)
		}
		served = append(served, s)
	}
	refused := []string{"wf/-api:1", "wf//api:1", "library/.:1", "wf/refused:.1", "wf/Refused:1",
		"wf/" + strings.Repeat("a", oci.MaxRepositoryLength-len("wf/")+1) + ":1"}
	for _, s := range refused {
		if got, err := image.ServedName(s, false); err == nil {
			t.Fatalf("the builder names %q as %q; the test wants a name it refuses", s, got)
		}
	}

	replaceIndex(t, f.dir, func(idx *v1.IndexManifest) {
		top := idx.Manifests[0]
		for _, s := range append(append([]string{}, served...), refused...) {
			d := top
			d.Annotations = map[string]string{oci.RefNameAnnotation: s}
			idx.Manifests = append(idx.Manifests, d)
		}
	})
	for _, s := range served {
		rn, err := oci.ParseRefName(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		ref := rn.Tag
		if ref == "" {
			ref = rn.Digest
		}
		resp, _ := f.do(t, http.MethodGet, "/v2/"+rn.Repository+"/manifests/"+ref, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("the builder names an image %q; the registry answers %s", s, resp.Status)
		}
	}
	for _, s := range refused {
		repo, _, _ := strings.Cut(s, ":")
		resp, _ := f.do(t, http.MethodGet, "/v2/"+repo+"/tags/list", nil)
		if resp.StatusCode == http.StatusOK {
			t.Errorf("the registry serves %q, a name the builder refuses", s)
		}
	}
}
