package state

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the errors returned
// wrap them with the root, file, key or version concerned.
var (
	// ErrLocked means another process holds the root. When that is another
	// ferry the error is a *LockedError, naming the holder's pid when it is
	// known.
	ErrLocked = errors.New("ferry root is in use")

	// ErrCorrupt means state.db cannot be read as ferry state. It is never
	// recreated: the operator restores it from backup.
	ErrCorrupt = errors.New("state database is corrupt")

	// ErrNotARoot means the directory given as the root is not a ferry root
	// (it does not exist, is not a directory, or has no state.db).
	ErrNotARoot = errors.New("not a ferry root")

	// ErrUnsafeRoot means the root, or a directory ferry keeps in it, can
	// be changed by someone other than ferry's user (writable by its group
	// or others, owned by another user), or a symlink stands where ferry
	// expects its own directory. Such a root is refused, never used as it
	// is: whoever can write there could plant what ferry then runs.
	ErrUnsafeRoot = errors.New("appliance root is not safe")

	// ErrSchemaTooNew means state.db was written by a newer ferry whose
	// layout this one does not understand.
	ErrSchemaTooNew = errors.New("state database is from a newer ferry")

	// ErrNotFound means the release, key or transaction asked for does not
	// exist.
	ErrNotFound = errors.New("not found")

	// ErrExists means a trust key id is already taken by different key
	// material; replacing a trust anchor must be an explicit remove and add.
	ErrExists = errors.New("already exists")

	// ErrStale means a key rotation statement is not newer than the one
	// the host's trust already comes from: trust never moves back.
	ErrStale = errors.New("not newer than the trust in force")

	// ErrInvalid means an argument is unusable: an empty name, an unknown
	// status or phase, a version that is not semver.
	ErrInvalid = errors.New("invalid argument")

	// ErrReadOnly means a write was attempted through a DB from
	// OpenReadOnly.
	ErrReadOnly = errors.New("state is open read-only")

	// ErrTxnOpen means BeginTxn was called while an earlier transaction is
	// unfinished; it has to be resumed or compensated first.
	ErrTxnOpen = errors.New("a transaction is already open")

	// ErrTxnNotOpen means a step was recorded in, or an attempt was made to
	// finish, a transaction that is already committed or aborted.
	ErrTxnNotOpen = errors.New("transaction is not open")

	// ErrCurrentRelease means the release to delete is the current one.
	ErrCurrentRelease = errors.New("release is the current release")

	// ErrAuditBroken means the audit log's hash chain does not hold: an
	// entry was edited, removed, reordered or the tail was cut off. The
	// error is an *AuditError naming the first bad entry.
	ErrAuditBroken = errors.New("audit log is broken")
)

// LockedError reports that another process holds the root's lock.
type LockedError struct {
	// PID is the process that holds the root for writing, or 0 when it is
	// not known: the holders are readers, or a writer is just starting.
	PID int
	// Root is the appliance root that is locked.
	Root string
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("ferry root %s is in use by pid %d; wait for that ferry to finish (or stop it) and try again", e.Root, e.PID)
	}
	return fmt.Sprintf("ferry root %s is in use by another ferry process; wait for it to finish and try again", e.Root)
}

// Is makes errors.Is(err, ErrLocked) true for a *LockedError.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// AuditError reports the first entry at which the audit log's hash chain
// breaks.
type AuditError struct {
	// Seq is the sequence number of the first bad or missing entry.
	Seq uint64
	// Reason says what is wrong with it.
	Reason string
	// Path is the state.db holding the log.
	Path string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("audit log in %s is broken at entry %d: %s; the log was tampered with or damaged: keep this state.db as evidence and investigate",
		e.Path, e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrAuditBroken) true for an *AuditError.
func (e *AuditError) Is(target error) bool { return target == ErrAuditBroken }
