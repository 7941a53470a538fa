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

// Marks of the trust set's rotation: the sequence number of the last key
// rotation statement applied (absent: never rotated) and the threshold it
// set.
const (
	markTrustSequence  = "trust.sequence"
	markTrustThreshold = "trust.threshold"
)

// TrustRotation is where key rotation has taken the host's trust: the
// sequence number of the last statement applied (0: none) and the number
// of distinct trusted keys it requires (0: none set, 1 applies).
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

// RotateTrust replaces every trusted key by keys (id to public key) and
// records the rotation's sequence number and threshold, in one
// transaction audited as "trust.rotate" with the keys removed and added.
// A sequence not above the recorded one is ErrStale: trust never moves
// back to an older set.
func (db *DB) RotateTrust(to TrustRotation, keys map[string][]byte) error {
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
		return appendAudit(tx, now(), "trust.rotate", map[string]string{
			"from": strconv.Itoa(current), "to": strconv.Itoa(to.Sequence), "threshold": strconv.Itoa(to.Threshold),
			"removed": strings.Join(removed, ","), "added": strings.Join(added, ","),
		})
	})
	if err != nil {
		return fmt.Errorf("rotate trust to statement %d: %w", to.Sequence, err)
	}
	return nil
}
