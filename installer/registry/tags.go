package registry

import "net/http"

// tagList is the body of a tags/list response.
type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// serveTags answers GET /v2/<name>/tags/list: the repository's tags in
// lexical order, paginated with n and last. Images stored by digest only
// have no tag and do not appear.
func (h *handler) serveTags(w http.ResponseWriter, r *http.Request, snap *snapshot, name string) {
	repo := snap.repos[name]
	if repo == nil {
		writeError(w, r, errNameUnknown(name))
		return
	}
	page, aerr := paginate(w, r, repo.tagNames)
	if aerr != nil {
		writeError(w, r, aerr)
		return
	}
	if page == nil {
		page = []string{} // "tags": [], which clients parse more reliably than null
	}
	writeJSON(w, r, "application/json", tagList{Name: name, Tags: page})
}
