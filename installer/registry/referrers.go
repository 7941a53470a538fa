package registry

import (
	"net/http"
	"slices"
)

// serveReferrers answers GET /v2/<name>/referrers/<digest>: an image index
// listing the manifests in the repository whose subject is digest, such as
// signatures and SBOMs shipped with an image. The specification forbids a
// 404 here, so an unknown subject or repository gets an empty index. The
// artifactType query parameter filters the list, and the OCI-Filters-Applied
// header says so.
func (h *handler) serveReferrers(w http.ResponseWriter, r *http.Request, snap *snapshot, name, digest string) {
	if parseDigest(digest) == digestInvalid {
		writeError(w, r, errDigestInvalid("invalid digest "+quote(digest)+": expected sha256: and 64 lowercase hexadecimal digits"))
		return
	}
	var refs []descriptor
	if repo := snap.repos[name]; repo != nil {
		refs = repo.referrers[digest]
	}
	if q := r.URL.Query(); q.Has("artifactType") {
		at := q.Get("artifactType")
		refs = slices.DeleteFunc(slices.Clone(refs), func(d descriptor) bool { return d.ArtifactType != at })
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if refs == nil {
		refs = []descriptor{}
	}
	writeJSON(w, r, mediaTypeOCIIndex, index{SchemaVersion: 2, MediaType: mediaTypeOCIIndex, Manifests: refs})
}
