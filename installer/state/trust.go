package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// AddTrust makes the public key pub (PEM or armored bytes, as given)
// trusted under id. Adding the same key again is a no-op; giving an id that
// is taken by a different key is ErrExists, because silently replacing a
// trust anchor is exactly what an attacker would want. The change is
// audited as "trust.add" with the key's sha256, in the same transaction.
func (db *DB) AddTrust(id string, pub []byte) error {
	if id == "" || len(pub) == 0 {
		return fmt.Errorf("add trusted key: %w: the key id and the key must not be empty", ErrInvalid)
	}
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketTrust)
		if err != nil {
			return err
		}
		if old := b.Get([]byte(id)); old != nil {
			if bytes.Equal(old, pub) {
				return nil
			}
			return fmt.Errorf("%w: key id %q is already trusted with a different key; remove it first if it is to be replaced", ErrExists, id)
		}
		if err := b.Put([]byte(id), pub); err != nil {
			return err
		}
		return appendAudit(tx, now(), "trust.add", map[string]string{"id": id, "sha256": keyDigest(pub)})
	})
	if err != nil {
		return fmt.Errorf("add trusted key %q: %w", id, err)
	}
	return nil
}

// RemoveTrust stops trusting the key id. It is ErrNotFound when there is no
// such key. The change is audited as "trust.remove".
func (db *DB) RemoveTrust(id string) error {
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketTrust)
		if err != nil {
			return err
		}
		old := b.Get([]byte(id))
		if old == nil {
			return fmt.Errorf("%w: no trusted key has that id", ErrNotFound)
		}
		digest := keyDigest(old)
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		return appendAudit(tx, now(), "trust.remove", map[string]string{"id": id, "sha256": digest})
	})
	if err != nil {
		return fmt.Errorf("remove trusted key %q: %w", id, err)
	}
	return nil
}

// Trust returns the trusted public keys by id.
func (db *DB) Trust() (map[string][]byte, error) {
	keys := make(map[string][]byte)
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketTrust)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			keys[string(k)] = clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read trusted keys: %w", err)
	}
	return keys, nil
}

// keyDigest names key material in the audit log without copying it there.
func keyDigest(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// Marks of the trust set: the sequence number of the last key rotation
// statement applied (absent: never rotated) and the threshold in force,
// set by the first install, `ferry trust threshold` or a rotation.
const (
	markTrustSequence  = "trust.sequence"
	markTrustThreshold = "trust.threshold"
)

// TrustRotation is where key rotation has taken the host's trust: the
// sequence number of the last statement applied (0: none) and the number
// of distinct trusted keys every bundle requires (0: none set, 1 applies).
type TrustRotation struct {
	Sequence  int
	Threshold int
}

// TrustRotation returns where key rotation has taken the host's trust.
func (db *DB) TrustRotation() (TrustRotation, error) {
	var tr TrustRotation
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		if tr.Sequence, err = intMark(b, markTrustSequence); err != nil {
			return err
		}
		tr.Threshold, err = intMark(b, markTrustThreshold)
		return err
	})
	if err != nil {
		return TrustRotation{}, fmt.Errorf("read the trust rotation: %w", err)
	}
	return tr, nil
}

func intMark(b *bolt.Bucket, name string) (int, error) {
	v := b.Get([]byte(name))
	if v == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: mark %s is %q", ErrCorrupt, name, v)
	}
	return n, nil
}

// RotateTrust replaces every trusted key by keys (id to public key),
// records the rotation's sequence number and threshold, and replaces the
// record of retired key material by retired, in one transaction audited
// as "trust.rotate" with the keys removed, added and retired. A sequence
// not above the recorded one is ErrStale: trust never moves back to an
// older set.
func (db *DB) RotateTrust(to TrustRotation, keys map[string][]byte, retired map[string]RetiredKey) error {
	if to.Sequence < 1 || to.Threshold < 1 || len(keys) == 0 {
		return fmt.Errorf("rotate trust: %w: sequence %d, threshold %d, %d keys", ErrInvalid, to.Sequence, to.Threshold, len(keys))
	}
	err := db.update(func(tx *bolt.Tx) error {
		marks, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		current, err := intMark(marks, markTrustSequence)
		if err != nil {
			return err
		}
		if to.Sequence <= current {
			return fmt.Errorf("%w: statement %d, the host is at %d", ErrStale, to.Sequence, current)
		}
		b, err := bucket(tx, bucketTrust)
		if err != nil {
			return err
		}
		var removed, added []string
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if _, kept := keys[string(k)]; !kept {
				removed = append(removed, string(k))
			}
		}
		for _, id := range removed {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for _, id := range slices.Sorted(maps.Keys(keys)) {
			if b.Get([]byte(id)) == nil {
				added = append(added, id)
			}
			if err := b.Put([]byte(id), keys[id]); err != nil {
				return err
			}
		}
		if err := marks.Put([]byte(markTrustSequence), []byte(strconv.Itoa(to.Sequence))); err != nil {
			return err
		}
		if err := marks.Put([]byte(markTrustThreshold), []byte(strconv.Itoa(to.Threshold))); err != nil {
			return err
		}
		newlyRetired, restored, err := putRetired(marks, retired)
		if err != nil {
			return err
		}
		return appendAudit(tx, now(), "trust.rotate", map[string]string{
			"from": strconv.Itoa(current), "to": strconv.Itoa(to.Sequence), "threshold": strconv.Itoa(to.Threshold),
			"removed": strings.Join(removed, ","), "added": strings.Join(added, ","),
			"retired": strings.Join(newlyRetired, ","), "restored": strings.Join(restored, ","),
		})
	})
	if err != nil {
		return fmt.Errorf("rotate trust to statement %d: %w", to.Sequence, err)
	}
	return nil
}

// markRetiredPrefix starts the names of the marks of retired key
// material: "trust.retired.<material>" holds "<sequence> <key id>".
const markRetiredPrefix = "trust.retired."

// RetiredKey is key material a rotation statement took out of the trust
// set: the id of the key that held it and the statement's sequence
// number. Such material is never trusted again by --key or `ferry trust
// add`; only a later rotation statement can bring it back.
type RetiredKey struct {
	ID       string `json:"id"`
	Sequence int    `json:"sequence"`
}

// RetiredKeys returns the retired key material, by material name (see
// verify.PublicKey.Material).
func (db *DB) RetiredKeys() (map[string]RetiredKey, error) {
	out := map[string]RetiredKey{}
	err := db.view(func(tx *bolt.Tx) error {
		marks, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		c := marks.Cursor()
		for k, v := c.Seek([]byte(markRetiredPrefix)); k != nil && strings.HasPrefix(string(k), markRetiredPrefix); k, v = c.Next() {
			seq, id, ok := strings.Cut(string(v), " ")
			n, err := strconv.Atoi(seq)
			if !ok || err != nil || n < 1 || id == "" {
				return fmt.Errorf("%w: mark %s is %q", ErrCorrupt, k, v)
			}
			out[strings.TrimPrefix(string(k), markRetiredPrefix)] = RetiredKey{ID: id, Sequence: n}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the retired keys: %w", err)
	}
	return out, nil
}

// putRetired replaces the retired marks by retired and returns the ids of
// the keys retired that were not before, and of those no longer retired
// (a statement named them again), each sorted.
func putRetired(marks *bolt.Bucket, retired map[string]RetiredKey) (newly, restored []string, err error) {
	had := map[string]string{} // material to id
	c := marks.Cursor()
	for k, v := c.Seek([]byte(markRetiredPrefix)); k != nil && strings.HasPrefix(string(k), markRetiredPrefix); k, v = c.Next() {
		_, id, _ := strings.Cut(string(v), " ")
		had[strings.TrimPrefix(string(k), markRetiredPrefix)] = id
	}
	for m := range had {
		if err := marks.Delete([]byte(markRetiredPrefix + m)); err != nil {
			return nil, nil, err
		}
	}
	stillRetired := map[string]bool{}
	for m, r := range retired {
		if m == "" || r.ID == "" || strings.Contains(r.ID, " ") || r.Sequence < 1 {
			return nil, nil, fmt.Errorf("%w: retired key %q: %+v", ErrInvalid, m, r)
		}
		if err := marks.Put([]byte(markRetiredPrefix+m), []byte(strconv.Itoa(r.Sequence)+" "+r.ID)); err != nil {
			return nil, nil, err
		}
		stillRetired[r.ID] = true
		if _, ok := had[m]; !ok {
			newly = append(newly, r.ID)
		}
	}
	for _, id := range had {
		if !stillRetired[id] {
			restored = append(restored, id)
		}
	}
	slices.Sort(newly)
	slices.Sort(restored)
	return slices.Compact(newly), slices.Compact(restored), nil
}

// SetTrustThreshold records how many distinct trusted keys must sign
// every bundle the host verifies, audited as "trust.threshold" with the
// old and the new value. Setting the value in force changes nothing and
// writes no audit entry. Whether the keys can meet it is the caller's to
// check: this package does not read keys.
func (db *DB) SetTrustThreshold(n int) error {
	if n < 1 {
		return fmt.Errorf("set the trust threshold: %w: %d, want at least 1", ErrInvalid, n)
	}
	err := db.update(func(tx *bolt.Tx) error {
		marks, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		old, err := intMark(marks, markTrustThreshold)
		if err != nil {
			return err
		}
		if max(old, 1) == n {
			return nil
		}
		if err := marks.Put([]byte(markTrustThreshold), []byte(strconv.Itoa(n))); err != nil {
			return err
		}
		return appendAudit(tx, now(), "trust.threshold", map[string]string{"from": strconv.Itoa(max(old, 1)), "to": strconv.Itoa(n)})
	})
	if err != nil {
		return fmt.Errorf("set the trust threshold to %d: %w", n, err)
	}
	return nil
}

// FirstTrust makes keys (id to public key) the host's trust and threshold
// its threshold, in one transaction audited as "trust.add" per key and
// "trust.threshold", when the host trusts no key; on a host that trusts
// keys it does nothing. It is the first install's: its keys and
// --threshold set up the host's trust, once.
func (db *DB) FirstTrust(keys map[string][]byte, threshold int) error {
	if len(keys) == 0 || threshold < 1 {
		return fmt.Errorf("set up trust: %w: %d keys, threshold %d", ErrInvalid, len(keys), threshold)
	}
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketTrust)
		if err != nil {
			return err
		}
		if k, _ := b.Cursor().First(); k != nil {
			return nil
		}
		at := now()
		for _, id := range slices.Sorted(maps.Keys(keys)) {
			if id == "" || len(keys[id]) == 0 {
				return fmt.Errorf("%w: an empty key or key id", ErrInvalid)
			}
			if err := b.Put([]byte(id), keys[id]); err != nil {
				return err
			}
			if err := appendAudit(tx, at, "trust.add", map[string]string{"id": id, "sha256": keyDigest(keys[id])}); err != nil {
				return err
			}
		}
		marks, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		old, err := intMark(marks, markTrustThreshold)
		if err != nil || max(old, 1) == threshold {
			return err
		}
		if err := marks.Put([]byte(markTrustThreshold), []byte(strconv.Itoa(threshold))); err != nil {
			return err
		}
		return appendAudit(tx, at, "trust.threshold", map[string]string{"from": strconv.Itoa(max(old, 1)), "to": strconv.Itoa(threshold)})
	})
	if err != nil {
		return fmt.Errorf("set up trust: %w", err)
	}
	return nil
}
