package installer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"ferry/installer/state"
	"ferry/verify"
)

// ErrStateDiverged means state.db holds security state (trusted keys, the
// trust threshold, the current release, the highest version) that its own
// audit chain does not lead to: it was edited behind ferry's back. It is a
// failure of the audit (errors.Is state.ErrAuditBroken is true too).
var ErrStateDiverged = errors.New("state.db differs from what its audit log records")

// DivergedError lists each difference between state.db and the state its
// audit chain derives.
type DivergedError struct {
	Differences []string
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("%v: %s; someone changed state.db without ferry: restore it from a backup, or find out who and why", ErrStateDiverged, strings.Join(e.Differences, "; "))
}

// Is makes a DivergedError both ErrStateDiverged and state.ErrAuditBroken.
func (e *DivergedError) Is(target error) bool {
	return target == ErrStateDiverged || target == state.ErrAuditBroken
}

// derived is the security state the audit chain leads to, replayed entry
// by entry. Each event that changes such state in the same bbolt
// transaction as its entry (or, for the highest version, in the commit the
// entry closes) has a case in apply; a new audited state change adds its
// case there and its comparison in VerifyDerived.
type derived struct {
	// keys are the trusted key ids, each with the SHA-256 of its key when
	// the chain records it ("" for keys a rotation added, whose id is
	// itself a digest of the key).
	keys map[string]string
	// retired are the ids of the keys whose material rotations retired.
	retired   map[string]bool
	sequence  int
	threshold int
	current   string
	highest   *semver.Version
	// clockFloor is the latest high-water time the log records (in a
	// clock.behind entry) since the last clock.reset, or that reset's new
	// time: the clock mark never goes below it.
	clockFloor time.Time
}

func (d *derived) apply(e state.AuditEntry) error {
	f := e.Fields
	switch e.Event {
	case "trust.add":
		d.keys[f["id"]] = f["sha256"]
	case "trust.remove":
		delete(d.keys, f["id"])
	case "trust.rotate":
		for _, id := range splitIDs(f["removed"]) {
			delete(d.keys, id)
		}
		for _, id := range splitIDs(f["added"]) {
			d.keys[id] = ""
		}
		for _, id := range splitIDs(f["restored"]) {
			delete(d.retired, id)
		}
		for _, id := range splitIDs(f["retired"]) {
			d.retired[id] = true
		}
		var err error
		if d.sequence, err = strconv.Atoi(f["to"]); err != nil {
			return fmt.Errorf("entry %d (trust.rotate): sequence %q", e.Seq, f["to"])
		}
		if d.threshold, err = strconv.Atoi(f["threshold"]); err != nil {
			return fmt.Errorf("entry %d (trust.rotate): threshold %q", e.Seq, f["threshold"])
		}
	case "trust.threshold":
		n, err := strconv.Atoi(f["to"])
		if err != nil {
			return fmt.Errorf("entry %d (trust.threshold): threshold %q", e.Seq, f["to"])
		}
		d.threshold = n
	case "clock.behind":
		t, err := time.Parse(time.RFC3339Nano, f["high-water"])
		if err != nil {
			return fmt.Errorf("entry %d (clock.behind): high-water %q", e.Seq, f["high-water"])
		}
		if t.After(d.clockFloor) {
			d.clockFloor = t
		}
	case "clock.reset":
		t, err := time.Parse(time.RFC3339Nano, f["to"])
		if err != nil {
			return fmt.Errorf("entry %d (clock.reset): to %q", e.Seq, f["to"])
		}
		d.clockFloor = t
	case "release.current":
		d.current = f["version"]
	case "txn.finish":
		// commit raises the highest-version mark of an install before
		// it finishes the transaction as committed.
		if f["kind"] != "install" || f["state"] != state.TxnCommitted {
			return nil
		}
		v, err := semver.StrictNewVersion(f["version"])
		if err != nil {
			return fmt.Errorf("entry %d (txn.finish): version %q", e.Seq, f["version"])
		}
		if d.highest == nil || v.GreaterThan(d.highest) {
			d.highest = v
		}
	}
	return nil
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// VerifyDerived replays the audit log (which the caller has verified) and
// compares the state it leads to with what state.db holds: the trusted
// keys (by id, and by SHA-256 where the log records it), the rotation
// sequence and threshold, the keys rotations retired, the current
// release, the highest version ever committed, and the latest time the
// host has seen (never below what a clock.behind entry recorded, unless a
// clock.reset came after). It returns a *DivergedError listing every
// difference.
//
// The chain shows that no entry was changed; this shows that no state was
// changed without an entry, so a key added or a release switched by
// editing state.db with a bbolt tool is found.
func VerifyDerived(db *state.DB) error {
	log, err := db.AuditLog()
	if err != nil {
		return err
	}
	d := &derived{keys: map[string]string{}, retired: map[string]bool{}}
	for _, e := range log {
		if err := d.apply(e); err != nil {
			return &DivergedError{Differences: []string{"the audit log cannot be replayed: " + err.Error()}}
		}
	}
	var diffs []string
	stored, err := db.Trust()
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(stored)) {
		want, logged := d.keys[id]
		switch {
		case !logged:
			diffs = append(diffs, fmt.Sprintf("key %s is trusted but no audit entry added it", id))
		case want != "" && keyDigest(stored[id]) != want:
			diffs = append(diffs, fmt.Sprintf("key %s is not the key the audit log recorded (sha256 %s)", id, want))
		}
		if k, err := verify.ParsePublicKey(stored[id]); err != nil || k.ID() != id {
			diffs = append(diffs, fmt.Sprintf("the key stored as %s is not a key with that id", id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(d.keys)) {
		if _, ok := stored[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("key %s is trusted by the audit log but missing from state.db", id))
		}
	}
	rot, err := db.TrustRotation()
	if err != nil {
		return err
	}
	if rot.Sequence != d.sequence || rot.Threshold != d.threshold {
		diffs = append(diffs, fmt.Sprintf("the trust is at rotation %d with threshold %d, the audit log says rotation %d with threshold %d", rot.Sequence, rot.Threshold, d.sequence, d.threshold))
	}
	retired, err := db.RetiredKeys()
	if err != nil {
		return err
	}
	retiredIDs := map[string]bool{}
	for _, r := range retired {
		retiredIDs[r.ID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(retiredIDs)) {
		if !d.retired[id] {
			diffs = append(diffs, fmt.Sprintf("key %s is retired but no audit entry retired it", id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(d.retired)) {
		if !retiredIDs[id] {
			diffs = append(diffs, fmt.Sprintf("key %s is retired by the audit log but not in state.db", id))
		}
	}
	current, err := db.Current()
	if err != nil {
		return err
	}
	if current != d.current {
		diffs = append(diffs, fmt.Sprintf("the current release is %q, the audit log says %q", current, d.current))
	}
	if _, open, err := db.OpenTxn(); err != nil {
		return err
	} else if !open {
		// An open transaction may have raised the mark in a commit that
		// a crash cut short; the next command finishes it.
		if diff := compareHighest(db, d.highest); diff != "" {
			diffs = append(diffs, diff)
		}
	}
	if !d.clockFloor.IsZero() {
		c, err := ReadClock(db, d.clockFloor)
		if err != nil {
			return err
		}
		if c.Mark.Before(d.clockFloor) {
			diffs = append(diffs, fmt.Sprintf("the latest time this host has seen is recorded as %s, the audit log says it reached %s and was not reset since",
				stampOrNone(c.Mark), d.clockFloor.Format(time.RFC3339Nano)))
		}
	}
	if len(diffs) > 0 {
		return &DivergedError{Differences: diffs}
	}
	return nil
}

func stampOrNone(t time.Time) string {
	if t.IsZero() {
		return "nothing (or not a time)"
	}
	return t.Format(time.RFC3339Nano)
}

// compareHighest compares the highest-version mark with the highest
// version the audit log shows committed.
func compareHighest(db *state.DB, want *semver.Version) string {
	b, err := db.Mark(highestMark)
	if err != nil {
		return err.Error()
	}
	switch {
	case b == nil && want == nil:
		return ""
	case b == nil:
		return fmt.Sprintf("the highest version ever installed is not recorded, the audit log says %s", want)
	case want == nil:
		return fmt.Sprintf("the highest version ever installed is %q, the audit log shows no install committed", b)
	}
	if v, err := semver.StrictNewVersion(string(b)); err != nil || !v.Equal(want) {
		return fmt.Sprintf("the highest version ever installed is %q, the audit log says %s", b, want)
	}
	return ""
}

// keyDigest is how the audit log names a key: the SHA-256 of the bytes
// stored.
func keyDigest(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}
