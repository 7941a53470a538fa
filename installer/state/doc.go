// Package state keeps the durable state of one installed appliance: the keys
// it trusts, its releases and which one is current, the journal of install
// and update transactions, small named marks (anti-rollback and clock
// high-water marks, licences) and an append-only, hash-chained audit log.
//
// Everything lives in one bbolt file, <root>/state.db (mode 0600). Every
// write is a single bbolt transaction, so it is atomic and on disk (fsync'd)
// before the call returns: a journal step that RecordStep has accepted
// survives kill -9 and power loss.
//
// One process writes at a time. Open takes an exclusive flock(2) on
// <root>/ferry.lock and writes its pid there, so a second ferry fails at once
// with "in use by pid N" instead of hanging; OpenReadOnly takes a shared lock
// and waits only briefly for a writer.
//
// A state.db that cannot be read is reported as ErrCorrupt and left exactly
// as it is: recreating it would silently forget the trusted keys, the
// anti-rollback marks and the audit log, which is what an attacker with the
// USB stick would want.
//
// Layout (bucket: key → value):
//
//	meta:     schema → decimal version; created → RFC 3339 time;
//	          current → version; txn.open → transaction id;
//	          audit.head → hash of the last audit entry; audit.count → entries
//	trust:    key id → public key bytes as given
//	releases: version → JSON Release
//	txns:     id (8 bytes, big-endian) → JSON Txn
//	steps:    one bucket per transaction id: seq (8 bytes) → JSON Step
//	marks:    name → value
//	audit:    seq (8 bytes, big-endian) → JSON AuditEntry
package state
