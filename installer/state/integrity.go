package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openChecked opens state.db read-only and checks that it is whole before
// anything else touches it: bbolt's meta pages, the file length against the
// size the database claims, every page reachable from the root, bbolt's own
// consistency check, and ferry's layout and schema version. It returns the
// read-only handle, which the caller keeps (OpenReadOnly) or closes before
// reopening for writing (Open).
//
// Checking read-only first matters twice over: a read-only open never
// writes, so a damaged file is left exactly as it was for the operator to
// inspect or restore; and bbolt reads pages through a memory map, where a
// truncated or scrambled file shows up as a fault or a panic rather than an
// error, which only the goroutine that runs into it can turn into one.
func openChecked(path string) (*bolt.DB, int, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if info.Size() == 0 {
		return nil, 0, corrupt(path, errors.New("the file is empty"))
	}
	var db *bolt.DB
	err = guarded(func() error {
		var err error
		// PreLoadFreelist reads the freelist here, in this guarded
		// goroutine, rather than in the goroutine tx.Check starts.
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: boltTimeout, PreLoadFreelist: true})
		return err
	})
	if err != nil {
		return nil, 0, classifyOpen(path, err)
	}
	var schema int
	err = guarded(func() error {
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > info.Size() {
				return fmt.Errorf("the file is %d bytes but the database needs %d: it was cut short", info.Size(), tx.Size())
			}
			if err := walk(tx); err != nil {
				return err
			}
			// Drain the whole channel: the checker goroutine reads
			// the memory map until it is done.
			var first error
			for err := range tx.Check() {
				if first == nil {
					first = err
				}
			}
			if first != nil {
				return first
			}
			var err error
			schema, err = readSchema(tx)
			if err != nil {
				return err
			}
			for _, name := range allBuckets() {
				if tx.Bucket([]byte(name)) == nil {
					return fmt.Errorf("bucket %s is missing", name)
				}
			}
			return checkRecords(tx)
		})
	})
	if err != nil {
		db.Close()
		return nil, 0, corrupt(path, err)
	}
	if schema > schemaVersion {
		db.Close()
		return nil, 0, fmt.Errorf("%s has schema version %d, this ferry understands up to %d: %w; use a ferry at least as new as the one that last wrote it",
			path, schema, schemaVersion, ErrSchemaTooNew)
	}
	return db, schema, nil
}

// walk reads every key and value of every bucket, so that each page the
// database can reach is touched once under the guard.
func walk(tx *bolt.Tx) error {
	var sum uint32
	var visit func(b *bolt.Bucket) error
	visit = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			sum = crc32.Update(sum, crc32.IEEETable, k)
			if v != nil {
				sum = crc32.Update(sum, crc32.IEEETable, v)
				return nil
			}
			child := b.Bucket(k)
			if child == nil {
				return fmt.Errorf("key %q has no value and is not a bucket", k)
			}
			return visit(child)
		})
	}
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return visit(b)
	})
}

// checkRecords checks that every JSON record parses. bbolt has no checksums
// on data pages, so damage inside a value passes its checks; finding it here
// makes it an error at Open rather than a surprise in the middle of an
// install.
func checkRecords(tx *bolt.Tx) error {
	valid := func(where string) func(k, v []byte) error {
		return func(k, v []byte) error {
			if v != nil && !json.Valid(v) {
				return fmt.Errorf("record %x in %s is damaged", k, where)
			}
			return nil
		}
	}
	for _, name := range []string{bucketReleases, bucketTxns, bucketAudit} {
		if err := tx.Bucket([]byte(name)).ForEach(valid(name)); err != nil {
			return err
		}
	}
	steps := tx.Bucket([]byte(bucketSteps))
	return steps.ForEachBucket(func(k []byte) error {
		return steps.Bucket(k).ForEach(valid(fmt.Sprintf("the journal of transaction %x", k)))
	})
}

// guarded runs fn with memory faults turned into panics, and any panic into
// an error, so that a damaged file is reported instead of crashing ferry.
func guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable page: %v", r)
		}
	}()
	return fn()
}

// classifyOpen turns a failed bbolt open into ferry's errors: a lock held by
// a program other than ferry, a permission problem, or damage.
func classifyOpen(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%s is locked by a program other than ferry; stop it and try again: %w", path, ErrLocked)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("open %s: %w; run ferry as the user that owns the root", path, err)
	default:
		return corrupt(path, err)
	}
}

// corrupt reports damage to the database at path. The cause is a detail
// of the damage and stays out of the chain: an errno inside bbolt's report
// must not let errors.Is see a missing file or a permission problem where
// the failure is damage.
func corrupt(path string, cause error) error {
	return fmt.Errorf("%s: %w (%v); it was left untouched: restore it from backup", path, ErrCorrupt, cause) //nolint:errorlint // see above
}
