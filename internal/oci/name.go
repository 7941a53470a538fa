package oci

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalidName marks an image name outside the grammar the appliance's
// registry serves.
var ErrInvalidName = errors.New("invalid image name")

// The distribution specification's grammar of a repository path and a tag.
// go-containerregistry parses names outside it, such as "wf/-api", "a//b",
// "library/." and the tag ".1"; an image named so would install but never
// be served.
var (
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE        = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// MaxRepositoryLength bounds a repository path. The specification leaves
// the limit to registries; 255 is what clients such as Docker enforce for a
// full reference, so a longer name could not be pulled anyway.
const MaxRepositoryLength = 255

// ValidRepository reports whether s is a repository path the appliance's
// registry serves: lowercase letters and digits in components separated by
// '/', '.', '_', '__' or dashes, at most MaxRepositoryLength long.
func ValidRepository(s string) bool {
	return len(s) <= MaxRepositoryLength && repositoryRE.MatchString(s)
}

// ValidTag reports whether s is a tag: up to 128 letters, digits, '_', '.'
// and '-', not starting with '.' or '-'.
func ValidTag(s string) bool { return tagRE.MatchString(s) }

// RefName is an image name as the appliance's registry serves it and as
// ferry writes it into RefNameAnnotation: a repository path with a tag, a
// digest, or both ("wf/api:1.4.0", "wf/api@sha256:…", "wf/api:1.4.0@sha256:…").
type RefName struct {
	Repository string
	Tag        string // empty when the name has only a digest
	Digest     string // empty when the name has only a tag; sha256 or sha512
}

// ParseRefName splits and checks a served image name. A value without a
// repository, such as the bare "1.0" that other tools write into a layout,
// or with neither tag nor digest, is refused: the appliance names every
// image by its full path. The digest may be any well-formed one
// (WellFormedDigest); callers that store content check it is a Digest.
func ParseRefName(s string) (RefName, error) {
	var r RefName
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		rest, r.Digest = rest[:i], rest[i+1:]
		if !WellFormedDigest(r.Digest) {
			return RefName{}, fmt.Errorf("%w: %q is not a digest", ErrInvalidName, r.Digest)
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		rest, r.Tag = rest[:i], rest[i+1:]
		if !ValidTag(r.Tag) {
			return RefName{}, fmt.Errorf("%w: %q is not a valid tag", ErrInvalidName, r.Tag)
		}
	}
	r.Repository = rest
	if !ValidRepository(r.Repository) {
		return RefName{}, fmt.Errorf("%w: %q is not a valid repository path", ErrInvalidName, r.Repository)
	}
	if r.Tag == "" && r.Digest == "" {
		return RefName{}, fmt.Errorf("%w: %q has neither a tag nor a digest", ErrInvalidName, s)
	}
	return r, nil
}

// String writes r back as "repository[:tag][@digest]".
func (r RefName) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}
