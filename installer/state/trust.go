package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

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
