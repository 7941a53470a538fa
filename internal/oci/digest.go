package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrInvalidDigest marks a string that is not a sha256 digest.
var ErrInvalidDigest = errors.New("invalid digest")

// Digest is a SHA-256 content digest in the OCI form
// "sha256:<64 lowercase hexadecimal digits>", the only algorithm ferry
// stores content under. Its hex part names files, so a Digest made by
// ParseDigest or FromHash never holds anything else. Digests compare with ==.
type Digest string

// digestPrefix is the algorithm part of every Digest.
const digestPrefix = "sha256:"

// ParseDigest checks that s is a sha256 digest and returns it as a Digest.
func ParseDigest(s string) (Digest, error) {
	if !ValidDigest(s) {
		return "", fmt.Errorf("%w: %q is not sha256:<64 lowercase hex digits>", ErrInvalidDigest, s)
	}
	return Digest(s), nil
}

// ValidDigest reports whether s is "sha256:" followed by 64 lowercase
// hexadecimal digits.
func ValidDigest(s string) bool {
	hexPart, ok := strings.CutPrefix(s, digestPrefix)
	return ok && isLowerHex(hexPart, 2*sha256.Size)
}

// WellFormedDigest reports whether s is a digest of an algorithm the OCI
// image specification registers: sha256 with 64 or sha512 with 128
// lowercase hexadecimal digits. A registry answers "unknown" rather than
// "invalid" for a well-formed digest it stores nothing under.
func WellFormedDigest(s string) bool {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	switch alg {
	case "sha256":
		return isLowerHex(enc, 64)
	case "sha512":
		return isLowerHex(enc, 128)
	}
	return false
}

// ValidHex reports whether s is the hex part of a sha256 digest: the name
// of a blob file in an OCI layout.
func ValidHex(s string) bool { return isLowerHex(s, 2*sha256.Size) }

// FromHash returns the digest of what was written to h, a SHA-256 hash.
func FromHash(h hash.Hash) Digest {
	return Digest(digestPrefix + hex.EncodeToString(h.Sum(nil)))
}

// FromHex returns the digest whose hex part is s, such as the name of a
// blob file; s must pass ValidHex for the result to be a valid Digest.
func FromHex(s string) Digest { return Digest(digestPrefix + s) }

// FromBytes returns the digest of b.
func FromBytes(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest(digestPrefix + hex.EncodeToString(sum[:]))
}

// Hex returns the hexadecimal part of d, without the algorithm.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), digestPrefix) }

// String returns d as written, "sha256:…".
func (d Digest) String() string { return string(d) }

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		hex := '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
		if !hex {
			return false
		}
	}
	return true
}
