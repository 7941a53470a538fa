package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"ferry/bundle"
)

// Driver names golang-migrate knows the database drivers by.
const (
	kindSQLite   = "sqlite"
	kindPostgres = "pgx5"
)

// target is one database opened for migration and locked against other
// migrations of it. Its record table exists and golang-migrate's version
// agrees with it.
type target struct {
	name     string
	kind     string
	where    string // the file, or the redacted DSN
	password string // to scrub from errors; "" for SQLite
	db       *sql.DB
	drv      database.Driver
	log      *slog.Logger
	release  []func() // in the order they run
}

// open opens and locks database name and repairs the version an
// interrupted migration left behind.
func (d *Databases) open(ctx context.Context, name string) (_ *target, err error) {
	unlock, err := d.lockLocal(ctx, name, d.lockWait())
	if err != nil {
		return nil, err
	}
	var t *target
	if dsn, ok := d.DSNs[name]; ok {
		t, err = d.openPostgres(ctx, name, dsn)
	} else {
		t, err = d.openSQLite(name)
	}
	if err != nil {
		unlock()
		return nil, err
	}
	t.release = append(t.release, unlock)
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if _, err := t.repair(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// close closes the database and releases its locks.
func (t *target) close() {
	if err := t.drv.Close(); err != nil {
		t.log.Warn("closing the database", "database", t.name, "err", t.scrub(err))
	}
	for _, f := range t.release {
		f()
	}
}

// errorf returns an error naming the database and where it is, with any
// password scrubbed from the message.
func (t *target) errorf(format string, args ...any) error {
	return t.scrub(fmt.Errorf("database %s (%s): "+format, append([]any{t.name, t.where}, args...)...))
}

func (t *target) scrub(err error) error { return scrub(err, t.password) }

// migrator returns golang-migrate over steps, read through open.
func (t *target) migrator(steps []bundle.Migration, open func(string) (io.ReadCloser, error)) (*migrate.Migrate, error) {
	src, err := iofs.New(newBlobFS(steps, open), ".")
	if err != nil {
		return nil, t.errorf("migration files: %w", err)
	}
	m, err := migrate.NewWithInstance("ferry", src, t.kind, t.drv)
	if err != nil {
		return nil, t.errorf("%w", err)
	}
	return m, nil
}

// repair makes golang-migrate's version agree with ferry_migrations, which
// commits with each migration and is therefore right after any crash. A
// dirty version is the mark of a migration that was interrupted or failed:
// its transaction either committed, and recorded it, or did not. It
// returns the database's version.
func (t *target) repair(ctx context.Context) (int, error) {
	recs, err := readRecords(ctx, t.db)
	if err != nil {
		return 0, t.errorf("read %s: %w", recordTable, err)
	}
	last := lastVersion(recs)
	want := last
	if want == 0 {
		want = database.NilVersion
	}
	v, dirty, err := t.drv.Version()
	if err != nil {
		return 0, t.errorf("read its version: %w", err)
	}
	switch {
	case v == want && !dirty:
		return last, nil
	case !dirty:
		return 0, t.errorf("%w: schema_migrations says version %d, %s says %d: the database was migrated outside ferry", ErrDrift, max(v, 0), recordTable, last)
	}
	t.log.Warn("resetting the version an interrupted or failed migration left", "database", t.name, "dirty_version", v, "version", last)
	if err := t.drv.SetVersion(want, false); err != nil {
		return 0, t.errorf("reset version %d (dirty) to %d: %w", v, last, err)
	}
	return last, nil
}

// failed explains a failed golang-migrate step over file, which was to
// bring the database to version to. The step's transaction was rolled
// back (or committed, if only golang-migrate's bookkeeping after it
// failed); repair sets the version to what is recorded. ok reports that
// the migration did commit after all.
func (t *target) failed(ctx context.Context, file string, to int, runErr error) (ok bool, err error) {
	dbe, line := driverError(runErr)
	at := file
	if line > 0 {
		at = fmt.Sprintf("%s, line %d", file, line)
	}
	last, rerr := t.repair(ctx)
	if rerr != nil {
		return false, t.scrub(fmt.Errorf("%w: database %s: %s: %w; setting its version back also failed, and the next ferry run will: %w", ErrMigration, t.name, at, dbe, rerr))
	}
	if last == to {
		t.log.Warn("migration committed, but golang-migrate's bookkeeping after it failed; repaired", "database", t.name, "file", file, "err", t.scrub(runErr))
		return true, nil
	}
	return false, t.scrub(fmt.Errorf("%w: database %s: %s: %w; the database stays at version %d", ErrMigration, t.name, at, dbe, last))
}
