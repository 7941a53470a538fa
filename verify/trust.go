package verify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TrustSet is the keys an appliance trusts and how many of them must sign:
// k of n distinct keys. A key counts once, however many times it signed
// and however many times it appears in Keys. Threshold 0 means 1.
type TrustSet struct {
	Keys      []*PublicKey
	Threshold int
	// Sequence is the number of the key rotation statement that put this
	// set in force (0: none); WalkRotations goes on from there.
	Sequence int
}

// Verify checks sigs over message and returns the ids, sorted, of the
// trusted keys whose signatures are valid.
//
// Signatures from keys outside the set are ignored: a bundle may be signed
// for several customers. But a signature that names a trusted key and does
// not verify is always an error (ErrBadSignature), even when the threshold
// is met without it, because it means the bundle or its signatures were
// tampered with. Other failures: ErrNoSignature when sigs is empty,
// ErrUntrustedKey when no signature is from a trusted key,
// ErrBelowThreshold when too few distinct trusted keys signed, ErrTooLarge
// for an oversized signature, and ErrInvalidTrustSet when the set can
// never be satisfied.
func (t TrustSet) Verify(message []byte, sigs []Signature) (validKeyIDs []string, err error) {
	trusted, threshold, err := t.index()
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, ErrNoSignature
	}
	valid := make(map[string]bool)
	for i, sig := range sigs {
		if len(sig.Data) > MaxSignatureSize {
			return nil, fmt.Errorf("signature %d (key %.64s): %d bytes: %w (%d bytes)", i+1, sig.KeyID, len(sig.Data), ErrTooLarge, MaxSignatureSize)
		}
		key, ok := trusted[sig.KeyID]
		if !ok {
			continue
		}
		if err := key.Verify(message, sig); err != nil {
			return nil, fmt.Errorf("trusted key %s: %w", sig.KeyID, err)
		}
		valid[sig.KeyID] = true
	}
	validKeyIDs = slices.Sorted(maps.Keys(valid))
	switch {
	case len(validKeyIDs) == 0:
		return nil, fmt.Errorf("%w: none of %d signatures is by one of the %d trusted keys (%s)", ErrUntrustedKey, len(sigs), len(trusted), strings.Join(slices.Sorted(maps.Keys(trusted)), ", "))
	case len(validKeyIDs) < threshold:
		return nil, fmt.Errorf("%w: %d of %d required trusted keys signed (%s)", ErrBelowThreshold, len(validKeyIDs), threshold, strings.Join(validKeyIDs, ", "))
	}
	return validKeyIDs, nil
}

// index maps key ids to keys, dropping duplicates, and checks that the
// threshold can be met.
func (t TrustSet) index() (map[string]*PublicKey, int, error) {
	trusted := make(map[string]*PublicKey, len(t.Keys))
	for i, k := range t.Keys {
		if k == nil || k.id == "" {
			return nil, 0, fmt.Errorf("%w: key %d is empty", ErrInvalidTrustSet, i+1)
		}
		trusted[k.id] = k
	}
	threshold := t.Threshold
	if threshold == 0 {
		threshold = 1
	}
	switch {
	case len(trusted) == 0:
		return nil, 0, fmt.Errorf("%w: no trusted keys", ErrInvalidTrustSet)
	case threshold < 0:
		return nil, 0, fmt.Errorf("%w: threshold %d is negative", ErrInvalidTrustSet, t.Threshold)
	case threshold > len(trusted):
		return nil, 0, fmt.Errorf("%w: threshold %d is more than the %d distinct trusted keys", ErrInvalidTrustSet, threshold, len(trusted))
	}
	return trusted, threshold, nil
}
