package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry is one record of the audit log. Entries are numbered from 1
// without gaps, and each carries the hash of the one before it (Prev, empty
// for the first) and its own (Hash), computed by HashAuditEntry.
type AuditEntry struct {
	Seq    uint64            `json:"seq"`
	Time   time.Time         `json:"time"`
	Event  string            `json:"event"`
	Fields map[string]string `json:"fields,omitempty"`
	Prev   string            `json:"prev"`
	Hash   string            `json:"hash"`
}

// auditDomain starts every hashed record, so that an audit hash can never
// be mistaken for the hash of anything else.
const auditDomain = "ferry audit v1"

// HashAuditEntry returns the hex sha256 that chains e into the log. It
// covers Seq, Time, Event, Fields and Prev (not Hash), encoded so that no
// two different entries encode alike: the domain string, then each of the
// decimal Seq, Time in UTC as RFC 3339 with nanoseconds, Event, the decimal
// number of fields, each field's key and value in key order, and Prev, each
// written as an 8-byte big-endian length followed by its bytes.
func HashAuditEntry(e AuditEntry) string {
	h := sha256.New()
	write := func(s string) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	write(auditDomain)
	write(strconv.FormatUint(e.Seq, 10))
	write(e.Time.UTC().Format(time.RFC3339Nano))
	write(e.Event)
	write(strconv.Itoa(len(e.Fields)))
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		write(k)
		write(e.Fields[k])
	}
	write(e.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

// Audit appends an entry to the audit log. Field values are scrubbed of
// the secrets given to SetSecrets and bounded in size; still, never pass a
// secret knowingly. State changes that matter to security (trust,
// the current release, transactions) are audited by this package in the
// same bbolt transaction as the change itself.
func (db *DB) Audit(event string, fields map[string]string) error {
	if event == "" {
		return fmt.Errorf("audit: %w: the event must not be empty", ErrInvalid)
	}
	scrubbed := make(map[string]string, len(fields))
	for k, v := range fields {
		scrubbed[k] = db.text(v)
	}
	err := db.update(func(tx *bolt.Tx) error { return appendAudit(tx, now(), event, scrubbed) })
	if err != nil {
		return fmt.Errorf("audit %s: %w", event, err)
	}
	return nil
}

// appendAudit adds an entry inside tx, chained to the head recorded in the
// meta bucket, and moves the head. The head (last hash and entry count) is
// kept apart from the entries so that cutting off the tail of the log is as
// detectable as editing it.
func appendAudit(tx *bolt.Tx, at time.Time, event string, fields map[string]string) error {
	meta, err := bucket(tx, bucketMeta)
	if err != nil {
		return err
	}
	log, err := bucket(tx, bucketAudit)
	if err != nil {
		return err
	}
	count, head, err := auditHead(meta)
	if err != nil {
		return err
	}
	e := AuditEntry{Seq: count + 1, Time: at.UTC(), Event: event, Prev: head}
	if len(fields) > 0 {
		e.Fields = maps.Clone(fields)
	}
	e.Hash = HashAuditEntry(e)
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := log.Put(u64key(e.Seq), data); err != nil {
		return err
	}
	if err := meta.Put([]byte(keyAuditCount), []byte(strconv.FormatUint(e.Seq, 10))); err != nil {
		return err
	}
	return meta.Put([]byte(keyAuditHead), []byte(e.Hash))
}

func auditHead(meta *bolt.Bucket) (uint64, string, error) {
	head := string(meta.Get([]byte(keyAuditHead)))
	v := meta.Get([]byte(keyAuditCount))
	if v == nil {
		return 0, head, nil
	}
	count, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("%w: audit entry count %q is not a number", ErrCorrupt, v)
	}
	return count, head, nil
}

// AuditHead returns the number of audit entries and the hash of the last
// one. Kept somewhere else (a compliance report, a ticket), it lets a later
// check notice a log that was rewritten as a whole, which the chain alone
// cannot.
func (db *DB) AuditHead() (uint64, string, error) {
	var count uint64
	var head string
	err := db.view(func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		count, head, err = auditHead(meta)
		return err
	})
	if err != nil {
		return 0, "", fmt.Errorf("read audit head: %w", err)
	}
	return count, head, nil
}

// AuditLog returns the audit log in order. It does not verify it; see
// VerifyAudit.
func (db *DB) AuditLog() ([]AuditEntry, error) {
	var entries []AuditEntry
	err := db.view(func(tx *bolt.Tx) error {
		log, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		return log.ForEach(func(k, v []byte) error {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%w: audit entry %x: %w", ErrCorrupt, k, err)
			}
			entries = append(entries, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return entries, nil
}

// VerifyAudit checks the audit log's hash chain and its recorded head. It
// returns an *AuditError (errors.Is ErrAuditBroken) naming the first entry
// that was edited, removed, moved, or cut off the tail.
//
// The chain shows that entries were not changed one by one. Someone able to
// write state.db could still rewrite the whole log and its head; comparing
// AuditHead with a copy kept elsewhere catches that.
func (db *DB) VerifyAudit() error {
	broken := func(seq uint64, format string, args ...any) error {
		return &AuditError{Seq: seq, Reason: fmt.Sprintf(format, args...), Path: db.path}
	}
	return db.view(func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		log, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		count, head, err := auditHead(meta)
		if err != nil {
			return broken(1, "the recorded head is unreadable: %v", err)
		}
		want := uint64(1)
		prev := ""
		c := log.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return broken(want, "a record with key %x is not an audit entry", k)
			}
			seq := binary.BigEndian.Uint64(k)
			if seq != want {
				return broken(want, "the entry is missing (the next one is %d)", seq)
			}
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return broken(seq, "the entry is unreadable: %v", err)
			}
			if e.Seq != seq {
				return broken(seq, "the entry stored here is entry %d: entries were moved", e.Seq)
			}
			if HashAuditEntry(e) != e.Hash {
				return broken(seq, "the entry does not match its hash: it was edited")
			}
			if e.Prev != prev {
				return broken(seq, "the entry does not follow entry %d: an entry before it was replaced or the log was reordered", seq-1)
			}
			prev = e.Hash
			want++
		}
		n := want - 1
		switch {
		case count > n:
			return broken(n+1, "the log ends at entry %d but %d were written: the last entries were removed", n, count)
		case count < n:
			return broken(count+1, "the log has %d entries but only %d were recorded: entries were added behind ferry's back", n, count)
		case head != prev:
			return broken(n, "the last entry does not match the recorded head: it was replaced")
		}
		return nil
	})
}

// LastAuditTime returns the time of the newest audit entry (zero when the
// log is empty). The chain makes it hard to move back unnoticed, so it is
// one of the high-water marks of time the clock rule judges by.
func (db *DB) LastAuditTime() (time.Time, error) {
	var at time.Time
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketAudit)
		if err != nil {
			return err
		}
		_, v := b.Cursor().Last()
		if v == nil {
			return nil
		}
		var e AuditEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("%w: the last audit entry is damaged: %w", ErrCorrupt, err)
		}
		at = e.Time
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the last audit entry: %w", err)
	}
	return at, nil
}
