package registry

import (
	"log/slog"
	"net/http"
)

// Options configures the handler.
type Options struct {
	// Logger receives problems found in the content store and failures to
	// read it. Nil discards them.
	Logger *slog.Logger
}

// Handler serves the OCI distribution-spec pull and content-discovery API from
// the OCI image layout at dir: the base endpoint, manifests and blobs by tag
// or digest (GET and HEAD, with ranges and conditional requests for blobs),
// tag lists, the catalog and the referrers API.
//
// It is read-only: every write method answers 405 Method Not Allowed with the
// specification's UNSUPPORTED error. The layout is read on each request, so
// images another process adds to it are served as soon as its index.json has
// been replaced; the handler never writes to dir.
func Handler(dir string, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &handler{store: &store{dir: dir, log: log}, log: log}
}

type handler struct {
	store *store
	log   *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Clients check this header on /v2/ to recognise a registry; sending it
	// on every response costs nothing and helps the ones that look elsewhere.
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, errUnsupported(http.StatusMethodNotAllowed,
			"the registry is read-only: images are added by installing or updating a ferry bundle"))
		return
	}
	rt, aerr := parseRoute(r.URL.Path)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if rt.endpoint == endpointBase {
		writeJSON(w, r, "application/json", struct{}{})
		return
	}
	snap, err := h.store.current()
	if err != nil {
		h.log.Error("registry: cannot read the content store", "dir", h.store.dir, "err", err)
		writeError(w, r, errInternal())
		return
	}
	switch rt.endpoint {
	case endpointCatalog:
		h.serveCatalog(w, r, snap)
	case endpointTags:
		h.serveTags(w, r, snap, rt.name)
	case endpointManifest:
		h.serveManifest(w, r, snap, rt.name, rt.ref)
	case endpointBlob:
		h.serveBlob(w, r, snap, rt.name, rt.ref)
	case endpointReferrers:
		h.serveReferrers(w, r, snap, rt.name, rt.ref)
	}
}
