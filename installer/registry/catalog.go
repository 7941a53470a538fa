package registry

import "net/http"

// catalog is the body of a _catalog response.
type catalog struct {
	Repositories []string `json:"repositories"`
}

// serveCatalog answers GET /v2/_catalog: every repository in the content
// store in lexical order, paginated with n and last. The catalog is not part
// of the distribution specification, but skopeo, crane and operators'
// scripts use it to see what an appliance holds, and nothing in the store is
// secret from a client that may pull it all.
func (h *handler) serveCatalog(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	page, aerr := paginate(w, r, snap.names)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if page == nil {
		page = []string{}
	}
	writeJSON(w, r, "application/json", catalog{Repositories: page})
}
