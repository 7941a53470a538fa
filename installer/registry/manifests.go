package registry

import (
	"net/http"
	"strings"

	"ferry/internal/oci"
)

// serveManifest answers GET and HEAD /v2/<name>/manifests/<reference>. A tag
// is looked up among the images named <name>:<tag>; a digest must be a
// manifest or index reachable from an image of <name>, so one repository
// cannot be used to read another's content. The response carries the
// manifest exactly as stored, since its digest covers every byte.
func (h *handler) serveManifest(w http.ResponseWriter, r *http.Request, snap *snapshot, name, ref string) {
	repo := snap.repos[name]
	if repo == nil {
		writeError(w, r, errNameUnknown(name))
		return
	}
	var digest string
	switch {
	case strings.Contains(ref, ":"):
		switch parseDigest(ref) {
		case digestSHA256:
			digest = ref
		case digestForeign:
			writeError(w, r, errManifestUnknown("manifest "+ref+" is not in repository "+name+"; the content store holds sha256 digests only"))
			return
		default:
			writeError(w, r, errDigestInvalid("invalid digest "+quote(ref)+": expected sha256: and 64 lowercase hexadecimal digits"))
			return
		}
	case oci.ValidTag(ref):
		var ok bool
		if digest, ok = repo.tags[ref]; !ok {
			writeError(w, r, errManifestUnknown("tag "+name+":"+ref+" is not in the content store"))
			return
		}
	default:
		writeError(w, r, errManifestUnknown("reference "+quote(ref)+" is neither a valid tag nor a digest"))
		return
	}
	mediaType, ok := repo.manifests[digest]
	if !ok {
		writeError(w, r, errManifestUnknown("manifest "+digest+" is not in repository "+name))
		return
	}
	h.serveContent(w, r, digest, mediaType, errManifestUnknown("manifest "+digest+" is missing from the content store"))
}
