package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Transaction states.
const (
	TxnOpen      = "open"
	TxnCommitted = "committed"
	TxnAborted   = "aborted"
)

// Step phases. A step is recorded as started before it runs and as done
// (or failed) after; undone records that a compensation reversed it.
const (
	PhaseStarted = "started"
	PhaseDone    = "done"
	PhaseFailed  = "failed"
	PhaseUndone  = "undone"
)

// Txn is one install, update or rollback: a journalled sequence of steps
// that either commits or is compensated and aborted. At most one is open at
// a time; after a crash it is the work the next ferry command must resume
// or undo.
type Txn struct {
	ID           uint64    `json:"id"`
	Kind         string    `json:"kind"` // install, update, rollback, …
	Version      string    `json:"version,omitempty"`
	BundleDigest string    `json:"bundleDigest,omitempty"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished,omitzero"`
	State        string    `json:"state"`            // open, committed, aborted
	Reason       string    `json:"reason,omitempty"` // why it ended as it did
}

// Step is one journal record: a phase of one named step of a transaction.
// A step's name appears once per phase it went through.
type Step struct {
	Txn    uint64    `json:"txn"`
	Seq    int       `json:"seq"`
	Name   string    `json:"name"`
	Phase  string    `json:"phase"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// BeginTxn opens a new transaction. While another is open it fails with
// ErrTxnOpen: that one has to be resumed or compensated first. The start is
// audited as "txn.begin".
func (db *DB) BeginTxn(kind, version, bundleDigest string) (Txn, error) {
	if kind == "" {
		return Txn{}, fmt.Errorf("begin transaction: %w: the kind must not be empty", ErrInvalid)
	}
	var t Txn
	err := db.update(func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		if open, ok, err := openTxn(tx); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: transaction %d (%s %s, started %s) is unfinished; resume or roll it back first",
				ErrTxnOpen, open.ID, open.Kind, open.Version, open.Started.Format(time.RFC3339))
		}
		txns, err := bucket(tx, bucketTxns)
		if err != nil {
			return err
		}
		id, err := txns.NextSequence()
		if err != nil {
			return err
		}
		t = Txn{ID: id, Kind: kind, Version: version, BundleDigest: bundleDigest, Started: now(), State: TxnOpen}
		if err := putTxn(txns, t); err != nil {
			return err
		}
		steps, err := bucket(tx, bucketSteps)
		if err != nil {
			return err
		}
		if _, err := steps.CreateBucket(u64key(id)); err != nil {
			return fmt.Errorf("journal of transaction %d: %w", id, err)
		}
		if err := meta.Put([]byte(keyOpenTxn), u64key(id)); err != nil {
			return err
		}
		return appendAudit(tx, t.Started, "txn.begin", map[string]string{
			"txn": strconv.FormatUint(id, 10), "kind": kind, "version": version, "bundle": bundleDigest,
		})
	})
	if err != nil {
		return Txn{}, fmt.Errorf("begin %s transaction: %w", kind, err)
	}
	return t, nil
}

// OpenTxn returns the unfinished transaction, if there is one.
func (db *DB) OpenTxn() (Txn, bool, error) {
	var t Txn
	var ok bool
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		t, ok, err = openTxn(tx)
		return err
	})
	if err != nil {
		return Txn{}, false, fmt.Errorf("read open transaction: %w", err)
	}
	return t, ok, nil
}

// RecordStep appends a phase of a step to an open transaction's journal.
// It is on disk when RecordStep returns, so a step journalled as started
// before it runs is known after any crash.
func (db *DB) RecordStep(txn uint64, name, phase, detail string) error {
	if name == "" {
		return fmt.Errorf("record step in transaction %d: %w: the step name must not be empty", txn, ErrInvalid)
	}
	switch phase {
	case PhaseStarted, PhaseDone, PhaseFailed, PhaseUndone:
	default:
		return fmt.Errorf("record step %s in transaction %d: %w: unknown phase %q (want %s, %s, %s or %s)",
			name, txn, ErrInvalid, phase, PhaseStarted, PhaseDone, PhaseFailed, PhaseUndone)
	}
	err := db.update(func(tx *bolt.Tx) error {
		t, err := getTxn(tx, txn)
		if err != nil {
			return err
		}
		if t.State != TxnOpen {
			return fmt.Errorf("%w: it is %s", ErrTxnNotOpen, t.State)
		}
		b, err := stepBucket(tx, txn)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if phase == PhaseFailed {
			// The error of a failed step is text from outside; other
			// details are ferry's own records (the journalled rotation,
			// applied migrations) and are kept whole.
			detail = db.text(detail)
		}
		data, err := json.Marshal(Step{Txn: txn, Seq: int(seq), Name: name, Phase: phase, Detail: detail, At: now()})
		if err != nil {
			return err
		}
		return b.Put(u64key(seq), data)
	})
	if err != nil {
		return fmt.Errorf("record step %s %s in transaction %d: %w", name, phase, txn, err)
	}
	return nil
}

// Steps returns a transaction's journal in the order it was recorded.
func (db *DB) Steps(txn uint64) ([]Step, error) {
	var steps []Step
	err := db.view(func(tx *bolt.Tx) error {
		b, err := stepBucket(tx, txn)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var s Step
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%w: step %x: %w", ErrCorrupt, k, err)
			}
			steps = append(steps, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal of transaction %d: %w", txn, err)
	}
	return steps, nil
}

// StepDone reports whether the last phase recorded for the named step is
// done, which is when resuming may skip it.
func (db *DB) StepDone(txn uint64, name string) (bool, error) {
	var done bool
	err := db.view(func(tx *bolt.Tx) error {
		b, err := stepBucket(tx, txn)
		if err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var s Step
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%w: step %x: %w", ErrCorrupt, k, err)
			}
			if s.Name == name {
				done = s.Phase == PhaseDone
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("step %s of transaction %d: %w", name, txn, err)
	}
	return done, nil
}

// FinishTxn closes an open transaction as committed or aborted, with the
// reason why. The end is audited as "txn.finish".
func (db *DB) FinishTxn(txn uint64, state, reason string) error {
	if state != TxnCommitted && state != TxnAborted {
		return fmt.Errorf("finish transaction %d: %w: state %q (want %s or %s)", txn, ErrInvalid, state, TxnCommitted, TxnAborted)
	}
	err := db.update(func(tx *bolt.Tx) error {
		t, err := getTxn(tx, txn)
		if err != nil {
			return err
		}
		if t.State != TxnOpen {
			return fmt.Errorf("%w: it is already %s", ErrTxnNotOpen, t.State)
		}
		t.State, t.Reason, t.Finished = state, db.text(reason), now()
		txns, err := bucket(tx, bucketTxns)
		if err != nil {
			return err
		}
		if err := putTxn(txns, t); err != nil {
			return err
		}
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Delete([]byte(keyOpenTxn)); err != nil {
			return err
		}
		return appendAudit(tx, t.Finished, "txn.finish", map[string]string{
			"txn": strconv.FormatUint(txn, 10), "kind": t.Kind, "version": t.Version, "state": state, "reason": t.Reason,
		})
	})
	if err != nil {
		return fmt.Errorf("finish transaction %d as %s: %w", txn, state, err)
	}
	return nil
}

// Txns returns every transaction, oldest first.
func (db *DB) Txns() ([]Txn, error) {
	var ts []Txn
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketTxns)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var t Txn
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("%w: transaction %x: %w", ErrCorrupt, k, err)
			}
			ts = append(ts, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	return ts, nil
}

func openTxn(tx *bolt.Tx) (Txn, bool, error) {
	meta, err := bucket(tx, bucketMeta)
	if err != nil {
		return Txn{}, false, err
	}
	v := meta.Get([]byte(keyOpenTxn))
	if v == nil {
		return Txn{}, false, nil
	}
	if len(v) != 8 {
		return Txn{}, false, fmt.Errorf("%w: open transaction id %x is malformed", ErrCorrupt, v)
	}
	t, err := getTxn(tx, binary.BigEndian.Uint64(v))
	if err != nil {
		return Txn{}, false, err
	}
	return t, true, nil
}

func getTxn(tx *bolt.Tx, id uint64) (Txn, error) {
	b, err := bucket(tx, bucketTxns)
	if err != nil {
		return Txn{}, err
	}
	v := b.Get(u64key(id))
	if v == nil {
		return Txn{}, fmt.Errorf("%w: no transaction %d", ErrNotFound, id)
	}
	var t Txn
	if err := json.Unmarshal(v, &t); err != nil {
		return Txn{}, fmt.Errorf("%w: transaction %d: %w", ErrCorrupt, id, err)
	}
	return t, nil
}

func putTxn(b *bolt.Bucket, t Txn) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return b.Put(u64key(t.ID), data)
}

func stepBucket(tx *bolt.Tx, txn uint64) (*bolt.Bucket, error) {
	steps, err := bucket(tx, bucketSteps)
	if err != nil {
		return nil, err
	}
	b := steps.Bucket(u64key(txn))
	if b == nil {
		return nil, fmt.Errorf("%w: no transaction %d", ErrNotFound, txn)
	}
	return b, nil
}
