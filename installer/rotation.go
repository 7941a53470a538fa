package installer

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"ferry/installer/state"
	"ferry/verify"
)

// stepRotation journals, when an install begins, the trust set the
// bundle's key rotation statements lead to. The commit puts it in force,
// and so does the recovery that finishes a commit a crash interrupted:
// the host never ends with the new release and the old trust.
const stepRotation = "rotation"

// rotationRecord is the detail of a stepRotation journal record.
type rotationRecord struct {
	Sequence  int               `json:"sequence"`
	Threshold int               `json:"threshold"`
	Keys      map[string][]byte `json:"keys"`
	// Retired is the key material the statements took out of the trust
	// set, by material name.
	Retired map[string]state.RetiredKey `json:"retired,omitempty"`
}

// rotationTarget is the trust set applied statements end at, walked from
// the set from: every key of a set that the next statement leaves out is
// retired by it.
func rotationTarget(from verify.TrustSet, applied []*verify.Rotation) rotationRecord {
	last := applied[len(applied)-1]
	keys := make(map[string][]byte, len(last.Keys))
	for i, k := range last.Keys {
		keys[k.ID()] = last.KeyData[i]
	}
	retired := map[string]state.RetiredKey{}
	prev := from.Keys
	for _, r := range applied {
		for _, k := range prev {
			if slices.ContainsFunc(r.Keys, k.SharesMaterial) {
				continue
			}
			for _, m := range k.Material() {
				retired[m] = state.RetiredKey{ID: k.ID(), Sequence: r.Sequence}
			}
		}
		prev = r.Keys
	}
	return rotationRecord{Sequence: last.Sequence, Threshold: last.Threshold, Keys: keys, Retired: retired}
}

// keep puts the set in force. The material retired before stays retired,
// unless the new set holds it: a statement may bring a key back.
func (r rotationRecord) keep(db *state.DB) error {
	retired, err := db.RetiredKeys()
	if err != nil {
		return err
	}
	maps.Copy(retired, r.Retired)
	for id, pub := range r.Keys {
		k, err := verify.ParsePublicKey(pub)
		if err != nil {
			return fmt.Errorf("key %s of rotation statement %d: %w", id, r.Sequence, err)
		}
		for _, m := range k.Material() {
			delete(retired, m)
		}
	}
	return db.RotateTrust(state.TrustRotation{Sequence: r.Sequence, Threshold: r.Threshold}, r.Keys, retired)
}

// KeepRotation makes the trust set that rotation statements, walked from
// the host's set from, led to the host's own (`ferry trust rotate`). An
// install does the same at its commit for the statements its bundle
// carried: a bundle that is refused, or fails, leaves the host's trust as
// it was.
func KeepRotation(db *state.DB, from verify.TrustSet, applied []*verify.Rotation) error {
	if len(applied) == 0 {
		return nil
	}
	return rotationTarget(from, applied).keep(db)
}

// journalRotation records where applied statements lead from the set
// from, for the commit of txn; no statements, no record.
func journalRotation(db *state.DB, txn state.Txn, from verify.TrustSet, applied []*verify.Rotation) error {
	if len(applied) == 0 {
		return nil
	}
	return recordDetail(db, txn, stepRotation, rotationTarget(from, applied))
}

// keepJournalledRotation puts in force the trust set journalled for txn, if
// any. A set already in force (the commit ran this far before a crash, or
// `ferry trust rotate` got there first) is left as it is.
func keepJournalledRotation(db *state.DB, txn state.Txn) error {
	var r rotationRecord
	if ok, err := readDetail(db, txn, stepRotation, &r); !ok {
		return err
	}
	if err := r.keep(db); err != nil && !errors.Is(err, state.ErrStale) {
		return err
	}
	return nil
}
