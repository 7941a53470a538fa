package registry

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// paginate applies the specification's n and last query parameters to the
// sorted list all: the result starts after last (which need not be in the
// list) and holds at most n entries. When entries remain, it sets a Link
// header with rel="next" pointing at the following page, as clients expect.
func paginate(w http.ResponseWriter, r *http.Request, all []string) ([]string, *apiError) {
	q := r.URL.Query()
	page := all
	if q.Has("last") {
		last := q.Get("last")
		page = all[sort.Search(len(all), func(i int) bool { return all[i] > last }):]
	}
	if !q.Has("n") {
		return page, nil
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 {
		return nil, errUnsupported(http.StatusBadRequest, "query parameter n must be a non-negative integer, not "+quote(q.Get("n")))
	}
	if n == 0 || len(page) <= n {
		return page[:min(n, len(page))], nil
	}
	page = page[:n]
	next := url.URL{Path: r.URL.Path, RawQuery: url.Values{
		"n":    {strconv.Itoa(n)},
		"last": {page[n-1]},
	}.Encode()}
	w.Header().Set("Link", "<"+next.String()+`>; rel="next"`)
	return page, nil
}
