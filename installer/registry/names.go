package registry

import (
	"regexp"
	"strings"
)

// The grammars below are the distribution specification's. Checking every
// name, tag and digest against them before use is what keeps a request from
// reaching outside the store: only a digest ever becomes part of a file path,
// and a valid sha256 digest is 64 hexadecimal digits, nothing else.
var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLength bounds a repository name. The specification leaves the limit
// to registries; 255 is what clients such as Docker enforce for a full
// reference, so a longer name could not be pulled anyway.
const maxNameLength = 255

func validName(name string) bool {
	return len(name) <= maxNameLength && nameRE.MatchString(name)
}

func validTag(tag string) bool {
	return tagRE.MatchString(tag)
}

// digestForm says what a string given as a digest turned out to be.
type digestForm int

const (
	// digestInvalid is not a digest at all: the answer is DIGEST_INVALID.
	digestInvalid digestForm = iota
	// digestSHA256 is sha256 followed by 64 lowercase hexadecimal digits,
	// the only algorithm the content store uses.
	digestSHA256
	// digestForeign is a well-formed digest of another registered
	// algorithm. It is valid, so the answer is "unknown", not "invalid":
	// the store simply holds nothing addressed that way.
	digestForeign
)

func parseDigest(s string) digestForm {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok {
		return digestInvalid
	}
	switch alg {
	case "sha256":
		if isLowerHex(enc, 64) {
			return digestSHA256
		}
	case "sha512":
		if isLowerHex(enc, 128) {
			return digestForeign
		}
	}
	return digestInvalid
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// splitRefName splits the value of an org.opencontainers.image.ref.name
// annotation in the content store into a repository name and a tag.
// "wf/api:1.4.0" names a tag; "wf/api@sha256:…" names an image by digest
// only, and has no tag. A value without a repository, such as the bare "1.0"
// that other tools write into a layout, is rejected: the store names every
// image by its full path.
func splitRefName(ref string) (name, tag string, ok bool) {
	hasDigest := false
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		if parseDigest(ref[i+1:]) == digestInvalid {
			return "", "", false
		}
		ref, hasDigest = ref[:i], true
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i+1:], "/") {
		name, tag = ref[:i], ref[i+1:]
		if !validTag(tag) {
			return "", "", false
		}
	} else {
		name = ref
	}
	if !validName(name) || (tag == "" && !hasDigest) {
		return "", "", false
	}
	return name, tag, true
}
