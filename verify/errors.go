package verify

import "errors"

// Sentinel errors. Callers test them with errors.Is; the messages they come
// wrapped in name the key, the signature or the limit concerned.
var (
	// ErrNoSignature means there was nothing to verify.
	ErrNoSignature = errors.New("no signature")

	// ErrUntrustedKey means none of the signatures is from a trusted key.
	ErrUntrustedKey = errors.New("not signed by a trusted key")

	// ErrBadSignature means a signature does not verify with the key it
	// names. For a trusted key this is a sign of tampering, never noise.
	ErrBadSignature = errors.New("signature does not verify")

	// ErrBelowThreshold means fewer distinct trusted keys signed than the
	// trust set requires.
	ErrBelowThreshold = errors.New("not enough trusted signatures")

	// ErrBadPassphrase means a private key could not be decrypted with the
	// passphrase given, or none was given.
	ErrBadPassphrase = errors.New("wrong passphrase")

	// ErrTooLarge means a key or a signature is over its size cap. The cap
	// is checked before any parsing, so hostile input cannot make the
	// parsers allocate without bound.
	ErrTooLarge = errors.New("over the size limit")

	// ErrInvalidTrustSet means the trust set itself is unusable: no keys, a
	// nil key, or a threshold that can never be met. It is a configuration
	// mistake, not a property of what is being verified.
	ErrInvalidTrustSet = errors.New("invalid trust set")
)
