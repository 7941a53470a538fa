package migrate

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	sqlitedrv "github.com/golang-migrate/migrate/v4/database/sqlite"
	_ "modernc.org/sqlite" // the pure-Go "sqlite" database/sql driver
)

// sqliteParams configure every connection to an embedded database: wait
// for a busy database rather than fail, write-ahead logging (readers such
// as `ferry status` do not block a migration, and a kill -9 loses only the
// uncommitted transaction), a full sync at each commit so that a migration
// ferry journals as applied survives a power loss, and write transactions
// that take the write lock when they begin.
const sqliteParams = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"

// DatabasesDir is the directory of the embedded databases of the
// appliance at root: ferry's own (0700), which the services' accounts may
// only pass through, by ACL (installer), never write; so that nothing a
// service does can plant a file or a link where ferry, as root, opens a
// database.
func DatabasesDir(root string) string { return filepath.Join(root, "databases") }

// SQLitePath is where the embedded database name of the appliance at root
// lives: <root>/databases/NAME.db, or <root>/data/NAME.db where an
// appliance made it before databases had their own directory.
func SQLitePath(root, name string) string {
	legacy := filepath.Join(root, "data", name+".db")
	if _, err := os.Lstat(legacy); err == nil {
		return legacy
	}
	return filepath.Join(DatabasesDir(root), name+".db")
}

// sqlitePath is where the embedded database name lives.
func (d *Databases) sqlitePath(name string) (string, error) {
	if d.Root == "" {
		return "", fmt.Errorf("database %s: no appliance root for its SQLite file", name)
	}
	p := SQLitePath(d.Root, name)
	if strings.ContainsRune(p, '?') {
		return "", fmt.Errorf("database %s: the path %s has a '?', which the SQLite driver cannot open", name, p)
	}
	return p, nil
}

// openSQLite opens (creating, 0600 in a 0700 directory) the embedded
// database name. One connection: the migrations of a database run one at
// a time, and a single connection cannot deadlock against itself.
func (d *Databases) openSQLite(name string) (*target, error) {
	path, err := d.sqlitePath(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	f.Close()
	db, err := sql.Open("sqlite", path+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("database %s (%s): %w", name, path, err)
	}
	db.SetMaxOpenConns(1)
	t := &target{name: name, kind: kindSQLite, where: path, db: db, log: d.log()}
	if filepath.Dir(path) == DatabasesDir(d.Root) {
		// Closing last removes the WAL and shared-memory files, which a
		// service cannot make again in ferry's directory.
		t.release = append(t.release, func() {
			if err := shareSQLite(d.Root, nil); err != nil {
				t.log.Warn("the services' database files", "database", name, "err", err)
			}
		})
	}
	if _, err := db.Exec(sqliteRecordTable); err != nil {
		db.Close()
		return nil, t.errorf("create %s: %w", recordTable, err)
	}
	drv, err := sqlitedrv.WithInstance(db, &sqlitedrv.Config{})
	if err != nil {
		db.Close()
		return nil, t.errorf("%w", err)
	}
	t.drv = drv
	return t, nil
}
