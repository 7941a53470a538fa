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
)

// sqliteVersion reads golang-migrate's version of an embedded database
// without creating the file or its tables.
func (d *Databases) sqliteVersion(ctx context.Context, name string) (int, bool, error) {
	path, err := d.sqlitePath(name)
	if err != nil {
		return 0, false, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, false, fmt.Errorf("database %s (%s): %w", name, path, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&n); err != nil {
		return 0, false, fmt.Errorf("database %s (%s): %w", name, path, err)
	}
	if n == 0 {
		return 0, false, nil
	}
	v, dirty, err := readVersion(ctx, db)
	if err != nil {
		return 0, false, fmt.Errorf("database %s (%s): %w", name, path, err)
	}
	return v, dirty, nil
}

// postgresVersion reads golang-migrate's version of a PostgreSQL database.
func (d *Databases) postgresVersion(ctx context.Context, name, dsn string) (int, bool, error) {
	t := &target{name: name, where: Redact(dsn), password: dsnPassword(dsn)}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return 0, false, t.errorf("%w", err)
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
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return 0, false, t.errorf("%w", err)
	}
	if !exists {
		return 0, false, nil
	}
	v, dirty, err := readVersion(ctx, db)
	if err != nil {
		return 0, false, t.errorf("%w", err)
	}
	return v, dirty, nil
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
