package migrate

import (
	"context"
	"fmt"
	"io"
	"time"

	"ferry/bundle"
	"ferry/internal/oci"
)

// Migrate brings database name to the newest of steps, which are in
// version order, reading each file through open(digest) from the content
// store.
//
// The versions the database already applied must be the first of steps,
// with the same up files (by sha256); otherwise nothing runs and the error
// is ErrDrift, naming the file. The pending migrations then run in order,
// each in its own transaction together with its record in
// ferry_migrations. When one fails, it is rolled back, the database stays
// at the last version that applied, and the error is ErrMigration, naming
// the file and quoting the database.
//
// applied lists the versions this call applied, also when it fails: they
// are what Revert undoes when the upgrade they belong to is abandoned. ctx
// is checked before each migration; one that has started runs to its
// end or its failure.
func (d *Databases) Migrate(ctx context.Context, name string, steps []bundle.Migration, open func(digest string) (io.ReadCloser, error)) (applied []int, err error) {
	if err := checkSteps(name, steps); err != nil {
		return nil, err
	}
	t, err := d.open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer t.close()
	recs, err := readRecords(ctx, t.db)
	if err != nil {
		return nil, t.errorf("read %s: %w", recordTable, err)
	}
	if err := checkDrift(name, steps, recs); err != nil {
		return nil, err
	}
	pending := steps[len(recs):]
	if len(pending) == 0 {
		t.log.Info("database is up to date", "database", name, "version", lastVersion(recs))
		return nil, nil
	}
	m, err := t.migrator(steps, open)
	if err != nil {
		return nil, err
	}
	for _, s := range pending {
		if err := ctx.Err(); err != nil {
			return applied, t.errorf("stopped before %s: %w", upFile(s), err)
		}
		start := time.Now()
		t.log.Info("applying migration", "database", name, "file", upFile(s))
		if runErr := m.Steps(1); runErr != nil {
			if ok, err := t.failed(ctx, upFile(s), s.Version, runErr); !ok {
				return applied, err
			}
		}
		if err := t.checkRecorded(ctx, s); err != nil {
			return append(applied, s.Version), err
		}
		applied = append(applied, s.Version)
		t.log.Info("migration applied", "database", name, "file", upFile(s), "version", s.Version, "took", time.Since(start).Round(time.Millisecond))
	}
	return applied, nil
}

// checkRecorded makes sure migration s recorded itself. It cannot have
// failed to unless its file ends inside a comment that swallowed the
// record; the migration did commit, so the record is written on its own.
func (t *target) checkRecorded(ctx context.Context, s bundle.Migration) error {
	recs, err := readRecords(ctx, t.db)
	if err != nil {
		return t.errorf("read %s after %s: %w", recordTable, upFile(s), err)
	}
	if lastVersion(recs) == s.Version {
		return nil
	}
	t.log.Warn("migration did not record itself (does the file end inside a comment?); recording it apart", "database", t.name, "file", upFile(s))
	if _, err := t.db.ExecContext(ctx, recordSQL(s)); err != nil {
		return t.errorf("record %s: %w", upFile(s), err)
	}
	return nil
}

// Version returns the version of database name (0 when it has none) and
// whether a migration of it was interrupted or failed and not yet
// repaired; the next Migrate or Revert repairs it. It takes no lock and
// changes nothing: a database never migrated is not created.
func (d *Databases) Version(ctx context.Context, name string) (version int, dirty bool, err error) {
	if !oci.ValidDatabaseName(name) {
		return 0, false, fmt.Errorf("database %q: not a valid database name", name)
	}
	return d.version(ctx, name)
}
