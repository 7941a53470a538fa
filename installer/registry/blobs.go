package registry

import "net/http"

// serveBlob answers GET and HEAD /v2/<name>/blobs/<digest>. Only blobs
// reachable from the repository's images are served (configs, layers and
// the manifests themselves): the store is shared by every repository, and
// reading a blob through a repository that does not hold it would let a
// client probe for content it was never given a name for.
func (h *handler) serveBlob(w http.ResponseWriter, r *http.Request, snap *snapshot, name, digest string) {
	switch parseDigest(digest) {
	case digestInvalid:
		writeError(w, r, errDigestInvalid("invalid digest "+quote(digest)+": expected sha256: and 64 lowercase hexadecimal digits"))
		return
	case digestForeign:
		writeError(w, r, errBlobUnknown("blob "+digest+" is not in repository "+name+"; the content store holds sha256 digests only"))
		return
	}
	repo := snap.repos[name]
	if repo == nil {
		writeError(w, r, errNameUnknown(name))
		return
	}
	if !repo.blobs[digest] {
		writeError(w, r, errBlobUnknown("blob "+digest+" is not in repository "+name))
		return
	}
	h.serveContent(w, r, digest, "application/octet-stream", errBlobUnknown("blob "+digest+" is missing from the content store"))
}
