package registry

import (
	"net/http"
	"strings"

	"ferry/internal/oci"
)

// endpoint is one of the API's URL forms.
type endpoint int

const (
	endpointBase endpoint = iota
	endpointCatalog
	endpointTags
	endpointManifest
	endpointBlob
	endpointReferrers
)

// route is a parsed request path.
type route struct {
	endpoint endpoint
	name     string // repository, checked against the name grammar
	ref      string // tag or digest, not yet checked
}

// parseRoute splits a request path into endpoint, repository and reference.
// A repository name has any number of path components ("wf/api",
// "library/nginx") and may itself contain a component such as "blobs", so
// the path is read from the right: the last endpoint keyword ends the name.
func parseRoute(path string) (route, *apiError) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return route{endpoint: endpointBase}, nil
		}
		return route{}, errUnsupported(http.StatusNotFound, "not an endpoint of the OCI distribution API: "+quote(path))
	}
	switch rest {
	case "":
		return route{endpoint: endpointBase}, nil
	case "_catalog":
		return route{endpoint: endpointCatalog}, nil
	}
	rt := route{}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		rt = route{endpoint: endpointTags, name: name}
	} else {
		at := -1
		for _, k := range []struct {
			keyword  string
			endpoint endpoint
		}{
			{"/manifests/", endpointManifest},
			{"/blobs/", endpointBlob},
			{"/referrers/", endpointReferrers},
		} {
			if i := strings.LastIndex(rest, k.keyword); i > at {
				at = i
				rt = route{endpoint: k.endpoint, name: rest[:i], ref: rest[i+len(k.keyword):]}
			}
		}
		if at < 0 {
			return route{}, errUnsupported(http.StatusNotFound, "not an endpoint of the OCI distribution API: "+quote(path))
		}
	}
	if !oci.ValidRepository(rt.name) {
		return route{}, errNameInvalid("invalid repository name " + quote(rt.name) +
			": lowercase letters and digits in path components separated by '/', '.', '_', '__' or '-'")
	}
	return rt, nil
}
