package license

import "errors"

// Sentinel errors. Callers test them with errors.Is; the messages they come
// wrapped in name the licence, the field or the value concerned.
var (
	// ErrMalformed means the file is not a licence in the one form Issue
	// writes: too large, not JSON, unknown, missing or duplicate fields,
	// trailing data, or a field whose value is not allowed.
	ErrMalformed = errors.New("malformed licence")

	// ErrUntrusted means no signature, or too few of them for the trust
	// set's threshold, is by a trusted licence key.
	ErrUntrusted = errors.New("licence is not signed by a trusted key")

	// ErrBadSignature means a signature by a trusted key does not verify:
	// the licence or its signature was changed after it was issued.
	ErrBadSignature = errors.New("licence signature does not verify")

	// ErrNotYetValid means the licence's notBefore is still ahead.
	ErrNotYetValid = errors.New("licence is not valid yet")

	// ErrExpired means the licence expired and its grace period is over.
	ErrExpired = errors.New("licence expired")

	// ErrWrongHost means the licence is bound to another host's
	// fingerprint.
	ErrWrongHost = errors.New("licence is bound to another host")

	// ErrVersionNotCovered means the bundle version is outside the
	// licence's version range.
	ErrVersionNotCovered = errors.New("version not covered by the licence")

	// ErrWrongProduct means the licence is for another product.
	ErrWrongProduct = errors.New("licence is for another product")

	// ErrNotNewer means a licence offered as a renewal was not issued after
	// the licence it would replace.
	ErrNotNewer = errors.New("licence is not newer than the installed one")

	// ErrNoFingerprint means no source of host identity could be read, so
	// this host has no fingerprint to bind a licence to.
	ErrNoFingerprint = errors.New("no host fingerprint")
)
