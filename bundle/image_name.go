package bundle

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// OCI and containerd annotations that name an image in a layout.
const (
	imageRefNameAnnotation        = "org.opencontainers.image.ref.name"
	imageContainerdNameAnnotation = "io.containerd.image.name"
)

// imageServedName turns a reference into the name the appliance's registry
// serves: the repository path without the registry host, then the tag
// and/or digest ("registry.example.com/wf/api:1.4.0" is "wf/api:1.4.0").
// A reference without a tag or digest gets "latest", as docker pull does.
//
// A short name without a registry host is ambiguous. From a registry
// reference (hub set) it is a Docker Hub name and keeps Docker Hub's
// repository path ("nginx" is "library/nginx"), which is what clients using
// the appliance as a mirror ask for. Otherwise (a spec name, an archive's own
// tag) it names a local image and is kept as written.
func imageServedName(s string, hub bool) (string, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return "", err
	}
	repo := ref.Context().RepositoryStr()
	if !hub && !imageHasRegistryHost(s) {
		repo = imageRepositoryAsWritten(s)
	}
	var served string
	switch r := ref.(type) {
	case name.Digest:
		served = repo + "@" + r.DigestStr()
		if tag := imageExplicitTag(s); tag != "" {
			served = repo + ":" + tag + "@" + r.DigestStr()
		}
	case name.Tag:
		served = repo + ":" + r.TagStr()
	default:
		return "", fmt.Errorf("reference %q has neither tag nor digest", s)
	}
	if len(repo) > imageMaxRepositoryLength || !imageServedNameRE.MatchString(served) {
		return "", fmt.Errorf("reference %q names %q, which the appliance's registry cannot serve: "+
			"a repository is lowercase letters and digits in path components separated by '/', '.', '_', '__' or '-', "+
			"and a tag starts with a letter, a digit or '_'", s, served)
	}
	return served, nil
}

// imageServedNameRE is the grammar of the names the appliance's registry
// serves (installer/registry reads the ref.name annotations with it): the
// distribution specification's repository path, then a tag, a digest, or
// both. go-containerregistry parses names outside it, such as "wf/-api",
// "a//b", "library/." and the tag ".1"; an image named so would install
// but never be served.
var imageServedNameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*` +
	`(?::[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})?(?:@(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?$`)

// imageMaxRepositoryLength is the registry's limit on a repository path.
const imageMaxRepositoryLength = 255

// imageHasRegistryHost applies go-containerregistry's rule: the first path
// component is a registry host when it contains a dot or a colon.
func imageHasRegistryHost(s string) bool {
	first, _, ok := strings.Cut(s, "/")
	return ok && strings.ContainsAny(first, ".:")
}

// imageRepositoryAsWritten is the repository part of a reference without a
// registry host: everything before the tag or digest.
func imageRepositoryAsWritten(s string) string {
	s, _, _ = strings.Cut(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		s = s[:i]
	}
	return s
}

// imageExplicitTag returns the tag written in a reference, if any; a
// reference with both tag and digest keeps both, since the tag is what
// people read and the digest what is pulled.
func imageExplicitTag(s string) string {
	s, _, _ = strings.Cut(s, "@")
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		return s[i+1:]
	}
	return ""
}

// imageIsFullName reports whether an annotation value is an image name with
// a repository ("wf/worker:1.4.0") rather than a bare tag ("1.4.0"). A tag
// cannot contain '/', ':' or '@'.
func imageIsFullName(s string) bool {
	if !strings.ContainsAny(s, "/:@") {
		return false
	}
	_, err := name.ParseReference(s)
	return err == nil
}

// imageFallbackName names an image that carries no usable name of its own
// after its directory or file (base, already without a file extension),
// then the tag, or the digest, or "latest".
func imageFallbackName(base, tag, digest string) (string, error) {
	ref := base + ":latest"
	switch {
	case tag != "":
		ref = base + ":" + tag
	case digest != "":
		ref = base + "@" + digest
	}
	served, err := imageServedName(ref, false)
	if err != nil {
		return "", fmt.Errorf("it has no name of its own and %q is not a valid image name; set name: for it in the spec: %w", ref, err)
	}
	return served, nil
}
