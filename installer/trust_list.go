package installer

import (
	"maps"
	"slices"

	"ferry/installer/state"
	"ferry/verify"
)

// TrustList is what `ferry trust list` shows, and its --json form: an
// object, so that the sequence and threshold are there for a script to
// check.
type TrustList struct {
	// Keys are the trusted keys, in the order of their ids.
	Keys []TrustedKey `json:"keys"`
	// Sequence is the last rotation statement applied, 0 for none.
	Sequence int `json:"sequence"`
	// Threshold is how many distinct keys must sign every bundle
	// installed or updated to (an install's --threshold may ask for
	// more).
	Threshold int `json:"threshold"`
	// Retired is the key material rotation statements retired: never
	// trusted again by --key or trust add.
	Retired []RetiredKey `json:"retired"`
}

// TrustedKey is one trusted key of a TrustList. Type is empty for a key
// that no longer parses.
type TrustedKey struct {
	ID   string         `json:"id"`
	Type verify.KeyType `json:"type"`
}

// RetiredKey is one retired key of a TrustList.
type RetiredKey struct {
	// Material names the key material (see verify.PublicKey.Material).
	Material string `json:"material"`
	state.RetiredKey
}

// ListTrust reads the host's trust from db without changing anything.
func ListTrust(db *state.DB) (*TrustList, error) {
	keys, err := db.Trust()
	if err != nil {
		return nil, err
	}
	rot, err := db.TrustRotation()
	if err != nil {
		return nil, err
	}
	retired, err := db.RetiredKeys()
	if err != nil {
		return nil, err
	}
	list := &TrustList{Keys: []TrustedKey{}, Sequence: rot.Sequence, Threshold: max(1, rot.Threshold), Retired: []RetiredKey{}}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		k := TrustedKey{ID: id}
		if pk, err := verify.ParsePublicKey(keys[id]); err == nil {
			k.Type = pk.Type()
		}
		list.Keys = append(list.Keys, k)
	}
	for _, m := range slices.Sorted(maps.Keys(retired)) {
		list.Retired = append(list.Retired, RetiredKey{Material: m, RetiredKey: retired[m]})
	}
	return list, nil
}
