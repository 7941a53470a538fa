package migrate

import (
	"log/slog"
	"sync"
	"time"
)

// DefaultLockWait is how long a migration waits for another migration of
// the same database before it gives up with ErrLocked: long enough for a
// peer's migrations to finish, short enough that an operator is told
// rather than left with a hung install.
const DefaultLockWait = 2 * time.Minute

// Databases are the logical databases of an appliance. A name in DSNs is a
// PostgreSQL database at that DSN (postgres:// or postgresql://); any other
// name is an embedded SQLite database at <Root>/data/<name>.db.
//
// Migrations of one database never interleave: on PostgreSQL an advisory
// lock held for the whole of Migrate or Revert serialises them across
// hosts and processes; on SQLite the appliance's own lock serialises
// processes and Databases serialises its callers. A Databases must not be
// copied after first use.
type Databases struct {
	// Root is the appliance directory; SQLite files live in <Root>/data
	// (0700), each 0600.
	Root string
	// DSNs maps a logical database name to a PostgreSQL DSN. A DSN carries
	// a password: ferry shows it only through Redact.
	DSNs map[string]string
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// LockWait bounds the wait for another migration of the same
	// database; 0 means DefaultLockWait.
	LockWait time.Duration

	mu   sync.Mutex
	busy map[string]chan struct{}
}

func (d *Databases) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

func (d *Databases) lockWait() time.Duration {
	if d.LockWait <= 0 {
		return DefaultLockWait
	}
	return d.LockWait
}
