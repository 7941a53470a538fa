package registry

import "ferry/internal/oci"

// Every name, tag and digest is checked against the distribution
// specification's grammar (internal/oci) before use. That is what keeps a
// request from reaching outside the store: only a digest ever becomes part
// of a file path, and a valid sha256 digest is 64 hexadecimal digits,
// nothing else. The builder names images with the same grammar, so every
// image of a bundle ferry builds is served.

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
	switch {
	case oci.ValidDigest(s):
		return digestSHA256
	case oci.WellFormedDigest(s):
		return digestForeign
	}
	return digestInvalid
}
