package migrate

import (
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Errors callers act on; test for them with errors.Is.
var (
	// ErrDrift: a migration the database already applied differs from the
	// bundle's file of the same version, or the database holds versions the
	// bundle does not have.
	ErrDrift = errors.New("migration drift")
	// ErrMigration: a migration failed; it was rolled back and the database
	// is at the last version that applied cleanly.
	ErrMigration = errors.New("migration failed")
	// ErrIrreversible: a migration to be reverted has no down file.
	ErrIrreversible = errors.New("migration is not reversible")
	// ErrLocked: another migration of the same database held its lock for
	// longer than Databases.LockWait.
	ErrLocked = errors.New("database is being migrated by another ferry")
)

// dbError carries the database's own message for a failure, without the
// migration text that golang-migrate adds to its errors, and keeps the
// driver's error (*pgconn.PgError, *sqlite.Error) reachable with errors.As.
type dbError struct {
	msg string
	err error
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.err }

// driverError digs the database's error out of golang-migrate's wrapping,
// which has no Unwrap, and phrases it as the database did. line is the line
// of the migration file golang-migrate located the error on, or 0.
func driverError(err error) (e *dbError, line uint) {
	for {
		var de *database.Error
		var v database.Error
		switch {
		case errors.As(err, &v):
			de = &v
		case errors.As(err, &de):
		}
		if de == nil || de.OrigErr == nil {
			break
		}
		line = max(line, de.Line)
		err = de.OrigErr
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		if pg.Position == 0 {
			// golang-migrate puts an error without a position on line 1.
			line = 0
		}
		msg := fmt.Sprintf("%s: %s", pg.Severity, pg.Message)
		if pg.Detail != "" {
			msg += ": " + pg.Detail
		}
		return &dbError{msg: fmt.Sprintf("%s (SQLSTATE %s)", msg, pg.Code), err: pg}, line
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return &dbError{msg: lite.Error(), err: lite}, line
	}
	return &dbError{msg: err.Error(), err: err}, line
}
