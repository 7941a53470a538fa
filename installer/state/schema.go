package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the layout this ferry reads and writes. A state.db with a
// higher version is refused (ErrSchemaTooNew) rather than misread; a lower
// one would be migrated in Open.
const schemaVersion = 1

// Bucket names. They are constants, converted where used, so that no
// package-level byte slice can be changed by accident.
const (
	bucketMeta     = "meta"
	bucketTrust    = "trust"
	bucketReleases = "releases"
	bucketTxns     = "txns"
	bucketSteps    = "steps"
	bucketMarks    = "marks"
	bucketAudit    = "audit"
)

// allBuckets are the top-level buckets every state.db has.
func allBuckets() []string {
	return []string{bucketMeta, bucketTrust, bucketReleases, bucketTxns, bucketSteps, bucketMarks, bucketAudit}
}

// Keys in the meta bucket.
const (
	keySchema     = "schema"
	keyCreated    = "created"
	keyCurrent    = "current"
	keyOpenTxn    = "txn.open"
	keyAuditHead  = "audit.head"
	keyAuditCount = "audit.count"
)

// initSchema lays out a new, empty state.db.
func initSchema(tx *bolt.Tx, now time.Time) error {
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket([]byte(bucketMeta))
	if err := meta.Put([]byte(keySchema), []byte(strconv.Itoa(schemaVersion))); err != nil {
		return err
	}
	if err := meta.Put([]byte(keyCreated), []byte(now.Format(time.RFC3339Nano))); err != nil {
		return err
	}
	return appendAudit(tx, now, "state.create", map[string]string{"schema": strconv.Itoa(schemaVersion)})
}

// readSchema returns the schema version recorded in state.db. Its errors
// describe the damage; the caller reports them as ErrCorrupt.
func readSchema(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		return 0, fmt.Errorf("no %s bucket", bucketMeta)
	}
	v := meta.Get([]byte(keySchema))
	if v == nil {
		return 0, errors.New("no schema version")
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("schema version %q is not a positive number", v)
	}
	return n, nil
}

// bucket returns a top-level bucket, or ErrCorrupt when it is missing: Open
// checked the layout, so a missing bucket means the file changed under us.
func bucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("%w: bucket %s is missing", ErrCorrupt, name)
	}
	return b, nil
}

// u64key encodes a number as a big-endian key, so bbolt's byte order is
// numeric order.
func u64key(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

// clone copies a value out of bbolt's memory map, which is only valid
// inside the transaction that read it.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
