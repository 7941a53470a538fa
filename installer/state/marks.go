package state

import (
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// SetMark stores a small named value: anti-rollback high-water marks (the
// installed version, the highest version ever installed, the latest time
// seen), licence state and the like, so that later features need no new
// schema. A nil value removes the mark. Callers that change a security mark
// (an override, say) should Audit it.
func (db *DB) SetMark(name string, value []byte) error {
	if name == "" {
		return fmt.Errorf("set mark: %w: the name must not be empty", ErrInvalid)
	}
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		if value == nil {
			return b.Delete([]byte(name))
		}
		return b.Put([]byte(name), value)
	})
	if err != nil {
		return fmt.Errorf("set mark %s: %w", name, err)
	}
	return nil
}

// Mark returns the value of a mark, or nil (and no error) when it is unset.
func (db *DB) Mark(name string) ([]byte, error) {
	var value []byte
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		value = clone(b.Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read mark %s: %w", name, err)
	}
	return value, nil
}

// Marks returns every mark whose name starts with prefix.
func (db *DB) Marks(prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketMarks)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			out[string(k)] = clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read marks %s*: %w", prefix, err)
	}
	return out, nil
}
