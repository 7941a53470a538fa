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
	message := pae(env.PayloadType, env.Payload)
	ids, err := trust.Verify(message, env.Signatures)
	switch {
	case errors.Is(err, verify.ErrInvalidTrustSet):
		return nil, nil, fmt.Errorf("licence trust: %w", err)
	case errors.Is(err, verify.ErrBadSignature):
		return nil, nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	case errors.Is(err, verify.ErrUntrustedKey), errors.Is(err, verify.ErrBelowThreshold), errors.Is(err, verify.ErrNoSignature):
		return nil, nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkSignatureTypes(env.Signatures, trust); err != nil {
		return nil, nil, err
	}
	l, err := parseBody(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: licence body signed by %v: %w", ErrMalformed, ids, err)
	}
	return l, ids, nil
}

// checkSignatureTypes requires each signature by a trusted key to name
// that key's exact type. verify accepts either sigstore type for a
// sigstore key (a bundle's ".sig" entry cannot tell them apart); a licence
// names the type, so the name must be right.
func checkSignatureTypes(sigs []verify.Signature, trust verify.TrustSet) error {
	for _, sig := range sigs {
		for _, k := range trust.Keys {
			if k.ID() == sig.KeyID && k.Type() != sig.Type {
				return fmt.Errorf("%w: the signature by trusted key %s says it is %s; the key is %s", ErrBadSignature, sig.KeyID, sig.Type, k.Type())
			}
		}
	}
	return nil
}
