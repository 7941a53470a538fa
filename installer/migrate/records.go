package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"

	"ferry/bundle"
	"ferry/internal/oci"
)

// recordTable is ferry's record of applied migrations, kept in the
// migrated database itself so that it commits with each migration.
const recordTable = "ferry_migrations"

// Schemas of recordTable; applied_at is when the migration's transaction
// ran, in UTC.
const (
	sqliteRecordTable = `CREATE TABLE IF NOT EXISTS ferry_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	up_sha256  TEXT NOT NULL,
	applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)`
	postgresRecordTable = `CREATE TABLE IF NOT EXISTS ferry_migrations (
	version    bigint PRIMARY KEY,
	name       text NOT NULL,
	up_sha256  text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
)

var (
	// migrationNameRE is the name part of NNN_name.up.sql, as bundles
	// allow it. Names, digests and database names are written into SQL,
	// so all are checked before any is.
	migrationNameRE = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// record is one row of recordTable.
type record struct {
	Version int
	Name    string
	UpSHA   string
}

// recordSQL and unrecordSQL are appended to a migration's up and down
// files. Their values were checked by checkSteps.
func recordSQL(m bundle.Migration) string {
	return fmt.Sprintf("INSERT INTO %s (version, name, up_sha256) VALUES (%d, '%s', '%s');", recordTable, m.Version, m.Name, hexDigest(m.Up))
}

func unrecordSQL(m bundle.Migration) string {
	return fmt.Sprintf("DELETE FROM %s WHERE version = %d;", recordTable, m.Version)
}

// checkSteps refuses a migration list that is not in strictly increasing
// version order or whose names or digests could not be written into SQL.
func checkSteps(name string, steps []bundle.Migration) error {
	if !oci.ValidDatabaseName(name) {
		return fmt.Errorf("database %q: not a valid database name (lowercase letters, digits and _, starting with a letter)", name)
	}
	for i, m := range steps {
		switch {
		case m.Version < 1:
			return fmt.Errorf("database %s: migration version %d: versions start at 1", name, m.Version)
		case i > 0 && m.Version <= steps[i-1].Version:
			return fmt.Errorf("database %s: migration %s follows %s: migrations must be in increasing version order", name, upFile(m), upFile(steps[i-1]))
		case !migrationNameRE.MatchString(m.Name):
			return fmt.Errorf("database %s: migration %d: name %q is not lowercase letters, digits and _", name, m.Version, m.Name)
		case !oci.ValidDigest(m.Up):
			return fmt.Errorf("database %s: %s: digest %q is not sha256:<64 hex>", name, upFile(m), m.Up)
		case m.Down != "" && !oci.ValidDigest(m.Down):
			return fmt.Errorf("database %s: %s: digest %q is not sha256:<64 hex>", name, downFile(m), m.Down)
		}
	}
	return nil
}

// readRecords returns recordTable's rows in version order.
func readRecords(ctx context.Context, db *sql.DB) ([]record, error) {
	rows, err := db.QueryContext(ctx, "SELECT version, name, up_sha256 FROM "+recordTable+" ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.Version, &r.Name, &r.UpSHA); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// lastVersion is the newest recorded version, or 0.
func lastVersion(recs []record) int {
	if len(recs) == 0 {
		return 0
	}
	return recs[len(recs)-1].Version
}

// checkDrift compares what the database applied with the bundle's
// migrations: the applied ones must be the bundle's first ones, with the
// same content. A migration is never edited once released; a change is a
// new migration.
func checkDrift(name string, steps []bundle.Migration, recs []record) error {
	for i, r := range recs {
		if i >= len(steps) {
			return fmt.Errorf("%w: database %s is at version %d (%03d_%s.up.sql), but this bundle's migrations end at version %d",
				ErrDrift, name, lastVersion(recs), r.Version, r.Name, lastVersion(toRecords(steps)))
		}
		m := steps[i]
		if m.Version != r.Version {
			i := slices.IndexFunc(steps, func(m bundle.Migration) bool { return m.Version == r.Version })
			if i < 0 {
				return fmt.Errorf("%w: database %s applied %03d_%s.up.sql, which this bundle does not have", ErrDrift, name, r.Version, r.Name)
			}
			return fmt.Errorf("%w: database %s applied %s but not %s, which this bundle puts before it", ErrDrift, name, upFile(steps[i]), upFile(m))
		}
		if hexDigest(m.Up) != r.UpSHA {
			was := ""
			if r.Name != m.Name {
				was = fmt.Sprintf(" (applied as %03d_%s.up.sql)", r.Version, r.Name)
			}
			return fmt.Errorf("%w: database %s: %s%s was applied with sha256 %s, this bundle's has sha256 %s: a released migration must not change; add a new migration instead",
				ErrDrift, name, upFile(m), was, r.UpSHA, hexDigest(m.Up))
		}
	}
	return nil
}

func toRecords(steps []bundle.Migration) []record {
	out := make([]record, len(steps))
	for i, m := range steps {
		out[i] = record{Version: m.Version, Name: m.Name, UpSHA: hexDigest(m.Up)}
	}
	return out
}
