package registry

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes from the distribution specification's error code table. A
// client decides what to do from the code, so each failure uses the most
// specific one; the message is for the person reading a log.
const (
	codeBlobUnknown     = "BLOB_UNKNOWN"
	codeDigestInvalid   = "DIGEST_INVALID"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeNameInvalid     = "NAME_INVALID"
	codeNameUnknown     = "NAME_UNKNOWN"
	codeUnsupported     = "UNSUPPORTED"

	// codeUnknown is not in the specification's table, which has no code for
	// a server fault; the reference registry uses it for that purpose and
	// clients treat it as a plain failure.
	codeUnknown = "UNKNOWN"
)

// apiError is one failure as the distribution specification reports it: an
// HTTP status and an entry of the JSON error body.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errBlobUnknown(msg string) *apiError {
	return &apiError{http.StatusNotFound, codeBlobUnknown, msg}
}

func errManifestUnknown(msg string) *apiError {
	return &apiError{http.StatusNotFound, codeManifestUnknown, msg}
}

func errNameUnknown(name string) *apiError {
	return &apiError{http.StatusNotFound, codeNameUnknown, "repository " + name + " is not in the content store"}
}

func errNameInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, codeNameInvalid, msg}
}

func errDigestInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, codeDigestInvalid, msg}
}

func errUnsupported(status int, msg string) *apiError {
	return &apiError{status, codeUnsupported, msg}
}

func errInternal() *apiError {
	return &apiError{http.StatusInternalServerError, codeUnknown, "the content store could not be read; see the registry's log"}
}

// errorBody is the JSON document the specification defines for failures.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError sends e as the specification's JSON error body. A HEAD response
// carries the status and headers only, as HTTP requires.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	b, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: e.code, Message: e.message}}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b) // a client gone mid-answer has no one to tell
}

// quote renders a client-supplied value safely for a message, which may end
// up in a terminal or a log.
func quote(s string) string {
	const limit = 100
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strconv.Quote(s)
}
