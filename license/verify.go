package license

import (
	"errors"
	"fmt"

	"ferry/verify"
)

// Verify parses a licence file, checks its signatures against trust, and
// only then reads the licence it carries. It returns the licence and the
// ids, sorted, of the trusted keys whose signatures verified.
//
// Signatures by keys outside trust are ignored. A signature by a trusted
// key that does not verify, or that names another key type than the
// trusted key's, fails with ErrBadSignature even when the threshold is met
// without it: it means the file was changed. Too few trusted signatures
// fail with ErrUntrusted (wrapping verify.ErrBelowThreshold when some
// trusted key did sign), anything malformed with ErrMalformed. A trust set
// that can never be satisfied returns verify.ErrInvalidTrustSet.
//
// Verify makes no judgement of time, product, version or host: that is
// Check's.
func Verify(data []byte, trust verify.TrustSet) (*License, []string, error) {
	env, err := parseEnvelope(data)
	if err != nil {
		return nil, nil, err
	}
	ids, err := verifyEnvelope(&env.Envelope, trust)
	if err != nil {
		return nil, nil, err
	}
	l, err := parseBody(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: licence body signed by %v: %w", ErrMalformed, ids, err)
	}
	return l, ids, nil
}

// verifyEnvelope checks a signed envelope of the licence keys (a licence,
// a clock reset statement) against trust, and says why it fails in the
// licence package's terms: ErrBadSignature, ErrUntrusted, ErrMalformed, or
// verify.ErrInvalidTrustSet for a trust set that can never be satisfied.
func verifyEnvelope(env *verify.Envelope, trust verify.TrustSet) ([]string, error) {
	ids, err := env.Verify(trust)
	switch {
	case errors.Is(err, verify.ErrInvalidTrustSet):
		return nil, fmt.Errorf("licence trust: %w", err)
	case errors.Is(err, verify.ErrBadSignature):
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	case errors.Is(err, verify.ErrUntrustedKey), errors.Is(err, verify.ErrBelowThreshold), errors.Is(err, verify.ErrNoSignature):
		return nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return ids, nil
}
