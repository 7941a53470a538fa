package bundle

import (
	"fmt"
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
	switch r := ref.(type) {
	case name.Digest:
		if tag := imageExplicitTag(s); tag != "" {
			return repo + ":" + tag + "@" + r.DigestStr(), nil
		}
		return repo + "@" + r.DigestStr(), nil
	case name.Tag:
		return repo + ":" + r.TagStr(), nil
	}
	return "", fmt.Errorf("reference %q has neither tag nor digest", s)
}

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
