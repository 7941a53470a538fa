package image

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"ferry/internal/oci"
)

// ServedName turns a reference into the name the appliance's registry
// serves: the repository path without the registry host, then the tag
// and/or digest ("registry.example.com/wf/api:1.4.0" is "wf/api:1.4.0").
// A reference without a tag or digest gets "latest", as docker pull does.
// The result always passes oci.ParseRefName, the check the registry makes.
// ServedName lives with the image sources, not in internal/oci, because it
// reads references with go-containerregistry's parser.
//
// A short name without a registry host is ambiguous. From a registry
// reference (hub set) it is a Docker Hub name and keeps Docker Hub's
// repository path ("nginx" is "library/nginx"), which is what clients using
// the appliance as a mirror ask for. Otherwise (a spec name, an archive's own
// tag) it names a local image and is kept as written.
func ServedName(s string, hub bool) (string, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return "", err
	}
	repo := ref.Context().RepositoryStr()
	if !hub && !hasRegistryHost(s) {
		repo = repositoryAsWritten(s)
	}
	var served string
	switch r := ref.(type) {
	case name.Digest:
		served = repo + "@" + r.DigestStr()
		if tag := explicitTag(s); tag != "" {
			served = repo + ":" + tag + "@" + r.DigestStr()
		}
	case name.Tag:
		served = repo + ":" + r.TagStr()
	default:
		return "", fmt.Errorf("reference %q has neither tag nor digest", s)
	}
	if _, err := oci.ParseRefName(served); err != nil {
		return "", fmt.Errorf("reference %q names %q, which the appliance's registry cannot serve: "+
			"a repository is lowercase letters and digits in path components separated by '/', '.', '_', '__' or '-', "+
			"and a tag starts with a letter, a digit or '_'", s, served)
	}
	return served, nil
}

// hasRegistryHost applies go-containerregistry's rule: the first path
// component is a registry host when it contains a dot or a colon.
func hasRegistryHost(s string) bool {
	first, _, ok := strings.Cut(s, "/")
	return ok && strings.ContainsAny(first, ".:")
}

// repositoryAsWritten is the repository part of a reference without a
// registry host: everything before the tag or digest.
func repositoryAsWritten(s string) string {
	s, _, _ = strings.Cut(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s = s[:i]
	}
	return s
}

// explicitTag returns the tag written in a reference, if any; a reference
// with both tag and digest keeps both, since the tag is what people read
// and the digest what is pulled.
func explicitTag(s string) string {
	s, _, _ = strings.Cut(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		return s[i+1:]
	}
	return ""
}
