// Package migrate applies a bundle's database migrations: to an embedded
// SQLite database under <root>/data by default, or to a PostgreSQL database
// the operator names by DSN at install time.
//
// golang-migrate runs the migrations. It reads NNN_name.up.sql and
// NNN_name.down.sql exactly as bundles carry them, and it reads them here
// from an in-memory file system filled from ferry's content store, each file
// checked against its signed digest as it is read: never from files that
// could have changed since the bundle was verified.
//
// Every migration runs in one transaction, and the row that records it in
// ferry_migrations (version, name, sha256 of the up file) is written in that
// same transaction. That table is therefore the truth about what was
// applied, even after a kill -9 in the middle of a migration: golang-migrate's
// own version and dirty flag are repaired from it before anything runs.
package migrate
