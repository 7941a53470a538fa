package verify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TrustSet is the keys an appliance trusts and how many of them must sign:
// k of n distinct keys. A key counts once, however many times it signed
// and however many times it appears in Keys, and so do two keys that
// share key material (one private key as a PEM key and in an OpenPGP
// certificate, see PublicKey.Material). Threshold 0 means 1.
type TrustSet struct {
	Keys      []*PublicKey
	Threshold int
	// Sequence is the number of the key rotation statement that put this
	// set in force (0: none); WalkRotations goes on from there.
	Sequence int
}

// Verify checks sigs over message and returns the ids, sorted, of the
// trusted keys whose signatures are valid: one id per distinct key, the
// smallest where two encodings of one key both signed.
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
	trusted, group, threshold, err := t.index()
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
			return nil, err // it names the key
		}
		valid[sig.KeyID] = true
	}
	counted := make(map[int]bool)
	for _, id := range slices.Sorted(maps.Keys(valid)) {
		if !counted[group[id]] {
			counted[group[id]] = true
			validKeyIDs = append(validKeyIDs, id)
		}
	}
	switch {
	case len(validKeyIDs) == 0:
		return nil, fmt.Errorf("%w: none of %d signatures is by one of the %d trusted keys (%s)", ErrUntrustedKey, len(sigs), len(trusted), strings.Join(slices.Sorted(maps.Keys(trusted)), ", "))
	case len(validKeyIDs) < threshold:
		return nil, fmt.Errorf("%w: %d of %d required trusted keys signed (%s)", ErrBelowThreshold, len(validKeyIDs), threshold, strings.Join(validKeyIDs, ", "))
	}
	return validKeyIDs, nil
}

// DistinctKeys is the number of distinct keys in the set: keys that share
// key material count once.
func (t TrustSet) DistinctKeys() int {
	_, group, _ := t.groups()
	return len(slices.Compact(slices.Sorted(maps.Values(group))))
}

// index maps key ids to keys, dropping duplicates, and to the group of
// keys sharing material each belongs to, and checks that the threshold
// can be met by distinct keys.
func (t TrustSet) index() (map[string]*PublicKey, map[string]int, int, error) {
	trusted, group, err := t.groups()
	if err != nil {
		return nil, nil, 0, err
	}
	distinct := len(slices.Compact(slices.Sorted(maps.Values(group))))
	threshold := t.Threshold
	if threshold == 0 {
		threshold = 1
	}
	switch {
	case len(trusted) == 0:
		return nil, nil, 0, fmt.Errorf("%w: no trusted keys", ErrInvalidTrustSet)
	case threshold < 0:
		return nil, nil, 0, fmt.Errorf("%w: threshold %d is negative", ErrInvalidTrustSet, t.Threshold)
	case threshold > distinct:
		return nil, nil, 0, fmt.Errorf("%w: threshold %d is more than the %d distinct trusted keys", ErrInvalidTrustSet, threshold, distinct)
	}
	return trusted, group, threshold, nil
}

// groups maps key ids to keys and to a group number: keys that share key
// material, directly or through another key of the set, are one group.
func (t TrustSet) groups() (map[string]*PublicKey, map[string]int, error) {
	trusted := make(map[string]*PublicKey, len(t.Keys))
	for i, k := range t.Keys {
		if k == nil || k.id == "" {
			return nil, nil, fmt.Errorf("%w: key %d is empty", ErrInvalidTrustSet, i+1)
		}
		trusted[k.id] = k
	}
	ids := slices.Sorted(maps.Keys(trusted))
	group := make(map[string]int, len(ids))
	for i, id := range ids {
		group[id] = i
	}
	// Merge until nothing changes: a set holds a few keys, and a chain
	// of shared material (a with b, b with c) is one group.
	for changed := true; changed; {
		changed = false
		for i, a := range ids {
			for _, b := range ids[i+1:] {
				if group[a] != group[b] && trusted[a].SharesMaterial(trusted[b]) {
					from, to := max(group[a], group[b]), min(group[a], group[b])
					for id, g := range group {
						if g == from {
							group[id] = to
						}
					}
					changed = true
				}
			}
		}
	}
	return trusted, group, nil
}
