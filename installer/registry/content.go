package registry

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"time"
)

// serveContent sends the stored blob with the given digest. The file is
// streamed, never read whole, and http.ServeContent answers HEAD, Range and
// If-None-Match: the ETag is the digest, which names the content exactly.
// notFound is the error for a blob the snapshot lists but the store lacks,
// which happens for a sparse image, or while an image is being removed.
func (h *handler) serveContent(w http.ResponseWriter, r *http.Request, digest, mediaType string, notFound *apiError) {
	f, err := os.Open(h.store.blobPath(digest))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			writeError(w, r, notFound)
			return
		}
		h.log.Error("registry: cannot open blob", "digest", digest, "err", err)
		writeError(w, r, errInternal())
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		h.log.Error("registry: blob is not a readable file", "digest", digest, "err", err)
		writeError(w, r, errInternal())
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", mediaType)
	hdr.Set("Docker-Content-Digest", digest)
	hdr.Set("ETag", `"`+digest+`"`)
	// A zero modification time keeps Last-Modified out: the digest says
	// everything about freshness that a date could.
	http.ServeContent(w, r, "", time.Time{}, f)
}

// writeJSON sends v as a JSON document of the given media type, with its
// length, and without a body for HEAD.
func writeJSON(w http.ResponseWriter, r *http.Request, mediaType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, errInternal())
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", mediaType)
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b) // a client gone mid-answer has no one to tell
	}
}
