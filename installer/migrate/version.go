package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"ferry/bundle"
)

// reading opens database name for reading, changing nothing, and calls
// fn with it and a test of whether a table exists. A SQLite database never
// migrated is not created, and fn is not called. fn's error is wrapped to
// name the database.
func (d *Databases) reading(ctx context.Context, name string, fn func(db *sql.DB, exists func(table string) (bool, error)) error) error {
	if dsn, ok := d.DSNs[name]; ok {
		return d.readingPostgres(ctx, name, dsn, fn)
	}
	path, err := d.sqlitePath(name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("database %s (%s): %w", name, path, err)
	}
	defer db.Close()
	exists := func(table string) (bool, error) {
		var n int
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n)
		return n > 0, err
	}
	if err := fn(db, exists); err != nil {
		return fmt.Errorf("database %s (%s): %w", name, path, err)
	}
	return nil
}

// readingPostgres is reading for a PostgreSQL database.
func (d *Databases) readingPostgres(ctx context.Context, name, dsn string, fn func(db *sql.DB, exists func(table string) (bool, error)) error) error {
	t := &target{name: name, where: Redact(dsn), password: dsnPassword(dsn)}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return t.errorf("%w", err)
	}
	if cfg.Password != "" {
		t.password = cfg.Password
	}
	// Not appName: this session takes no lock and must not be taken for
	// an interrupted migration's.
	cfg.RuntimeParams["application_name"] = "ferry"
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	// table is one of this package's constants, never input.
	exists := func(table string) (bool, error) {
		var ok bool
		err := db.QueryRowContext(ctx, "SELECT to_regclass('"+table+"') IS NOT NULL").Scan(&ok)
		return ok, err
	}
	if err := fn(db, exists); err != nil {
		return t.errorf("%w", err)
	}
	return nil
}

// version reads golang-migrate's version of database name without
// creating the database or its tables.
func (d *Databases) version(ctx context.Context, name string) (v int, dirty bool, err error) {
	err = d.reading(ctx, name, func(db *sql.DB, exists func(string) (bool, error)) error {
		ok, err := exists("schema_migrations")
		if err != nil || !ok {
			return err
		}
		v, dirty, err = readVersion(ctx, db)
		return err
	})
	return v, dirty, err
}

// CheckApplied compares the migrations database name applied with steps,
// as Migrate does before it runs any, but reading only: the error is
// ErrDrift, naming the file, when they differ. A database never migrated
// applied nothing, and is not created.
func (d *Databases) CheckApplied(ctx context.Context, name string, steps []bundle.Migration) error {
	if err := checkSteps(name, steps); err != nil {
		return err
	}
	var recs []record
	err := d.reading(ctx, name, func(db *sql.DB, exists func(string) (bool, error)) error {
		ok, err := exists(recordTable)
		if err != nil || !ok {
			return err
		}
		recs, err = readRecords(ctx, db)
		return err
	})
	if err != nil {
		return err
	}
	return checkDrift(name, steps, recs)
}

// readVersion reads golang-migrate's table: one row, or none for a
// database at no version.
func readVersion(ctx context.Context, db *sql.DB) (int, bool, error) {
	var (
		v     int64
		dirty bool
	)
	err := db.QueryRowContext(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&v, &dirty)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return int(max(v, 0)), dirty, nil
}
