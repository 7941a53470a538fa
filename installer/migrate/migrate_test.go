package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/internal/testenv"
)

// content stands in for ferry's content store: blobs by digest.
type content map[string][]byte

func (c content) add(s string) string {
	sum := sha256.Sum256([]byte(s))
	d := "sha256:" + hex.EncodeToString(sum[:])
	c[d] = []byte(s)
	return d
}

func (c content) open(d string) (io.ReadCloser, error) {
	b, ok := c[d]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (c content) step(v int, name, up, down string) bundle.Migration {
	m := bundle.Migration{Version: v, Name: name, Up: c.add(up)}
	if down != "" {
		m.Down = c.add(down)
	}
	return m
}

// goodSet is three migrations that work on SQLite and PostgreSQL alike.
func goodSet(c content) []bundle.Migration {
	return []bundle.Migration{
		c.step(1, "init", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n", "DROP TABLE users;\n"),
		c.step(2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT;\nINSERT INTO users (id, name) VALUES (1, 'admin');\n",
			"DELETE FROM users WHERE id = 1;\nALTER TABLE users DROP COLUMN email;\n"),
		c.step(3, "orders", "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id))\n-- the last statement has no semicolon and the file ends in a comment",
			"DROP TABLE orders;"),
	}
}

// env is one kind of database under test.
type env struct {
	pg   *testServer // nil for SQLite
	logs *testenv.Buffer
	log  *slog.Logger
}

func newEnv(pg *testServer) *env {
	e := &env{pg: pg, logs: &testenv.Buffer{}}
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return e
}

// databases returns a Databases with one fresh, empty database "app".
func (e *env) databases(t *testing.T) *Databases {
	d := &Databases{Root: t.TempDir(), Log: e.log}
	if e.pg != nil {
		d.DSNs = map[string]string{"app": e.pg.newDatabase(t)}
	}
	return d
}

// raw opens database "app" of d directly, to look at what migrations did.
func (e *env) raw(t *testing.T, d *Databases) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if e.pg != nil {
		db, err = sql.Open("pgx", d.DSNs["app"])
	} else {
		db, err = sql.Open("sqlite", SQLitePath(d.Root, "app"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// secrets are the forms the test server's password could take in text.
func (e *env) secrets() []string {
	if e.pg == nil {
		return nil
	}
	p := e.pg.password
	return []string{p, url.QueryEscape(p), url.PathEscape(p), url.UserPassword("", p).String()[1:]}
}

// noSecret fails the test if text shows the password.
func (e *env) noSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range e.secrets() {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the password (%q):\n%s", what, s, text)
		}
	}
}

func (e *env) wantVersion(t *testing.T, d *Databases, want int) {
	t.Helper()
	v, dirty, err := d.Version(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if v != want || dirty {
		t.Fatalf("version %d (dirty %v), want %d, clean", v, dirty, want)
	}
}

func (e *env) recorded(t *testing.T, d *Databases) []int {
	t.Helper()
	recs, err := readRecords(context.Background(), e.raw(t, d))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, r := range recs {
		out = append(out, r.Version)
	}
	return out
}

func (e *env) tableExists(t *testing.T, d *Databases, table string) bool {
	t.Helper()
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '" + table + "'"
	if e.pg != nil {
		q = "SELECT count(*) FROM pg_tables WHERE tablename = '" + table + "'"
	}
	var n int
	if err := e.raw(t, d).QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func (e *env) count(t *testing.T, d *Databases, table string) int {
	t.Helper()
	var n int
	if err := e.raw(t, d).QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// scenarios run against every kind of database.
var scenarios = []struct {
	name string
	run  func(*testing.T, *env)
}{
	{"Apply", testApply},
	{"SyntaxErrorInTheMiddle", testSyntaxError},
	{"ConstraintViolationInTheMiddle", testConstraintViolation},
	{"Drift", testDrift},
	{"Revert", testRevert},
	{"FailedDownMigration", testFailedDown},
	{"Irreversible", testIrreversible},
	{"ChangedContent", testChangedContent},
	{"Concurrent", testConcurrent},
	{"KillDuringMigration", testKill},
}

func runScenarios(t *testing.T, e *env) {
	t.Run("scenarios", func(t *testing.T) {
		for _, s := range scenarios {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				s.run(t, e)
			})
		}
	})
	logs := e.logs.String()
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
	e.noSecret(t, "the log", logs)
	if !strings.Contains(logs, "migration applied") {
		t.Errorf("the log has no applied migration:\n%s", logs)
	}
}

func TestSQLite(t *testing.T) {
	runScenarios(t, newEnv(nil))
}

func TestPostgres(t *testing.T) {
	e := newEnv(startPostgres(t))
	runScenarios(t, e)
	t.Run("LockTimeout", func(t *testing.T) { testLockTimeout(t, e) })
	t.Run("Unreachable", func(t *testing.T) { testUnreachable(t, e) })
	t.Run("LockTimeoutInMigration", func(t *testing.T) { testLockTimeoutInMigration(t, e) })
	e.noSecret(t, "the log", e.logs.String())
}

func testApply(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	e.wantVersion(t, d, 0)
	applied, err := d.Migrate(ctx, "app", steps, c.open)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, []int{1, 2, 3}) {
		t.Fatalf("applied %v, want [1 2 3]", applied)
	}
	e.wantVersion(t, d, 3)
	if got := e.recorded(t, d); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("ferry_migrations has %v", got)
	}
	var sum string
	if err := e.raw(t, d).QueryRow("SELECT up_sha256 FROM ferry_migrations WHERE version = 2").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if "sha256:"+sum != steps[1].Up {
		t.Errorf("recorded sha256 %s, want %s", sum, steps[1].Up)
	}
	if !e.tableExists(t, d, "orders") || e.count(t, d, "users") != 1 {
		t.Error("the migrations' effects are missing")
	}
	applied, err = d.Migrate(ctx, "app", steps, c.open)
	if err != nil || len(applied) != 0 {
		t.Fatalf("re-run: applied %v, %v; want nothing", applied, err)
	}
	// A later bundle adds a migration: only it runs.
	steps = append(steps, c.step(4, "index", "CREATE INDEX orders_user ON orders (user_id);", "DROP INDEX orders_user;"))
	applied, err = d.Migrate(ctx, "app", steps, c.open)
	if err != nil || !slices.Equal(applied, []int{4}) {
		t.Fatalf("upgrade: applied %v, %v; want [4]", applied, err)
	}
	e.wantVersion(t, d, 4)
	if e.pg == nil {
		for _, p := range []string{DatabasesDir(d.Root), SQLitePath(d.Root, "app")} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s has mode %v: others may read it", p, perm)
			}
		}
	}
}

// badMiddle applies a set whose second migration fails and checks that
// the database stays at version 1, clean, with nothing of the second
// migration, and that the error names the file and quotes the database.
func badMiddle(t *testing.T, e *env, bad bundle.Migration, c content, dbSays []string) *Databases {
	t.Helper()
	ctx := context.Background()
	d := e.databases(t)
	good := goodSet(c)
	steps := []bundle.Migration{good[0], bad, good[2]}
	steps[2].Version = 3
	applied, err := d.Migrate(ctx, "app", steps, c.open)
	if !errors.Is(err, ErrMigration) {
		t.Fatalf("Migrate: %v, want ErrMigration", err)
	}
	e.noSecret(t, "the error", err.Error())
	if !slices.Equal(applied, []int{1}) {
		t.Errorf("applied %v, want [1]", applied)
	}
	msg := err.Error()
	t.Logf("the error: %v", msg)
	if !strings.Contains(msg, upFile(bad)) {
		t.Errorf("the error does not name %s: %v", upFile(bad), msg)
	}
	if !slices.ContainsFunc(dbSays, func(s string) bool { return strings.Contains(msg, s) }) {
		t.Errorf("the error does not quote the database (%q): %v", dbSays, msg)
	}
	e.wantVersion(t, d, 1)
	if got := e.recorded(t, d); !slices.Equal(got, []int{1}) {
		t.Errorf("ferry_migrations has %v, want [1]", got)
	}
	if e.tableExists(t, d, "orders") {
		t.Error("the migration after the failed one ran")
	}
	// The vendor fixes the migration: it was never applied, so this is
	// not drift, and the rest follows.
	steps[1] = c.step(2, "fixed", "CREATE TABLE audit (id INTEGER);", "DROP TABLE audit;")
	applied, err = d.Migrate(ctx, "app", steps, c.open)
	if err != nil || !slices.Equal(applied, []int{2, 3}) {
		t.Fatalf("after the fix: applied %v, %v; want [2 3]", applied, err)
	}
	e.wantVersion(t, d, 3)
	return d
}

func testSyntaxError(t *testing.T, e *env) {
	c := content{}
	bad := c.step(2, "broken", "CREATE TABLE half (id INTEGER);\nCREAT TABLE broken (id INTEGER);\n", "")
	d := badMiddle(t, e, bad, c, []string{`syntax error at or near "CREAT"`, `near "CREAT": syntax error`})
	if e.tableExists(t, d, "half") {
		t.Error("the failed migration's first statement was not rolled back")
	}
}

func testConstraintViolation(t *testing.T, e *env) {
	c := content{}
	bad := c.step(2, "dup_user", "INSERT INTO users (id, name) VALUES (7, 'a');\nINSERT INTO users (id, name) VALUES (7, 'b');\n", "")
	d := badMiddle(t, e, bad, c, []string{`duplicate key value violates unique constraint "users_pkey"`, "UNIQUE constraint failed: users.id"})
	if n := e.count(t, d, "users"); n != 0 {
		t.Errorf("users has %d rows: the failed migration's first insert was not rolled back", n)
	}
}

func testDrift(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	if _, err := d.Migrate(ctx, "app", steps[:2], c.open); err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(steps)
	changed[1] = c.step(2, "add_email", "ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';\n", "")
	applied, err := d.Migrate(ctx, "app", changed, c.open)
	if !errors.Is(err, ErrDrift) || len(applied) != 0 {
		t.Fatalf("Migrate: applied %v, %v; want ErrDrift", applied, err)
	}
	if !strings.Contains(err.Error(), "002_add_email.up.sql") {
		t.Errorf("the error does not name the file: %v", err)
	}
	e.wantVersion(t, d, 2)
	// A bundle that lost a migration the database has is drift too.
	if _, err := d.Migrate(ctx, "app", steps[:1], c.open); !errors.Is(err, ErrDrift) {
		t.Errorf("older bundle: %v, want ErrDrift", err)
	}
}

func testRevert(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	if _, err := d.Migrate(ctx, "app", steps[:1], c.open); err != nil {
		t.Fatal(err)
	}
	// The upgrade applies 2 and 3, then is abandoned.
	applied, err := d.Migrate(ctx, "app", steps, c.open)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Revert(ctx, "app", steps, applied, c.open); err != nil {
		t.Fatal(err)
	}
	e.wantVersion(t, d, 1)
	if got := e.recorded(t, d); !slices.Equal(got, []int{1}) {
		t.Errorf("ferry_migrations has %v, want [1]", got)
	}
	if e.tableExists(t, d, "orders") || e.count(t, d, "users") != 0 {
		t.Error("the down migrations did not undo the up migrations")
	}
	// Again, as after a crash in the middle of a revert: nothing to do.
	if err := d.Revert(ctx, "app", steps, applied, c.open); err != nil {
		t.Fatalf("second revert: %v", err)
	}
	// Reverting everything leaves an empty database at version 0, and the
	// migrations can be applied again.
	if err := d.Revert(ctx, "app", steps, []int{1}, c.open); err != nil {
		t.Fatal(err)
	}
	e.wantVersion(t, d, 0)
	if e.tableExists(t, d, "users") {
		t.Error("users survived its down migration")
	}
	applied, err = d.Migrate(ctx, "app", steps, c.open)
	if err != nil || !slices.Equal(applied, []int{1, 2, 3}) {
		t.Fatalf("after revert: applied %v, %v", applied, err)
	}
	// A revert of 2 alone would leave 3 on top of it: refused.
	if err := d.Revert(ctx, "app", steps, []int{2}, c.open); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("revert under a newer version: %v", err)
	}
	e.wantVersion(t, d, 3)
}

func testFailedDown(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	steps[2] = c.step(3, "orders", "CREATE TABLE orders (id INTEGER PRIMARY KEY);", "DROP TABLE orders;\nDROP TABLE no_such_table;")
	applied, err := d.Migrate(ctx, "app", steps, c.open)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Revert(ctx, "app", steps, applied, c.open)
	if !errors.Is(err, ErrMigration) || !strings.Contains(err.Error(), "003_orders.down.sql") || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("Revert: %v; want ErrMigration naming 003_orders.down.sql and no_such_table", err)
	}
	e.noSecret(t, "the error", err.Error())
	e.wantVersion(t, d, 3)
	if !e.tableExists(t, d, "orders") {
		t.Error("the failed down migration was not rolled back")
	}
}

func testIrreversible(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	steps[1].Down = ""
	applied, err := d.Migrate(ctx, "app", steps, c.open)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Revert(ctx, "app", steps, applied, c.open)
	if !errors.Is(err, ErrIrreversible) || !strings.Contains(err.Error(), "002_add_email.down.sql") {
		t.Fatalf("Revert: %v; want ErrIrreversible naming 002_add_email.down.sql", err)
	}
	// Nothing ran, not even the down migration of 3, which exists.
	e.wantVersion(t, d, 3)
	if !e.tableExists(t, d, "orders") {
		t.Error("a down migration ran before the revert was refused")
	}
}

func testChangedContent(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	// The store's copy of migration 2 changed after it was verified.
	c[steps[1].Up] = []byte("DROP TABLE users;")
	applied, err := d.Migrate(ctx, "app", steps, c.open)
	if err == nil || !strings.Contains(err.Error(), "changed since it was verified") || !strings.Contains(err.Error(), "002_add_email.up.sql") {
		t.Fatalf("Migrate: %v; want a refusal of the changed content of 002_add_email.up.sql", err)
	}
	if !slices.Equal(applied, []int{1}) {
		t.Errorf("applied %v, want [1]", applied)
	}
	e.wantVersion(t, d, 1)
	if !e.tableExists(t, d, "users") {
		t.Error("the changed content ran")
	}
}

func testConcurrent(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	if e.pg != nil {
		// Long enough that the two overlap.
		steps[0] = c.step(1, "init", "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nSELECT pg_sleep(0.5);", "DROP TABLE users;")
	}
	// Each its own Databases, as two ferry processes would be; on SQLite
	// they share one, as the appliance lock serialises processes.
	runs := []*Databases{d, d, d}
	if e.pg != nil {
		runs = []*Databases{d, {DSNs: d.DSNs, Log: e.log}, {DSNs: d.DSNs, Log: e.log}}
	}
	results := make([][]int, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Go(func() { results[i], errs[i] = r.Migrate(ctx, "app", steps, c.open) })
	}
	wg.Wait()
	total := 0
	for i := range runs {
		if errs[i] != nil {
			t.Errorf("run %d: %v", i, errs[i])
		}
		total += len(results[i])
		if len(results[i]) != 0 && !slices.Equal(results[i], []int{1, 2, 3}) {
			t.Errorf("run %d applied %v: the runs interleaved", i, results[i])
		}
	}
	if total != 3 {
		t.Errorf("the runs applied %v between them, want 1, 2 and 3 once", results)
	}
	e.wantVersion(t, d, 3)
}

func testLockTimeout(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := []bundle.Migration{c.step(1, "slow", "CREATE TABLE slow (x INTEGER);\nSELECT pg_sleep(2);", "")}
	done := make(chan error, 1)
	go func() {
		_, err := d.Migrate(ctx, "app", steps, c.open)
		done <- err
	}()
	e.pg.waitForQuery(t, d.DSNs["app"], "pg_sleep")
	other := &Databases{DSNs: d.DSNs, Log: e.log, LockWait: 300 * time.Millisecond}
	_, err := other.Migrate(ctx, "app", steps, c.open)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "ferry-migrate pid") {
		t.Errorf("second migration: %v; want ErrLocked naming the holder", err)
	}
	e.noSecret(t, "the error", fmt.Sprint(err))
	t.Logf("the error: %v", err)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.wantVersion(t, d, 1)
}

func testUnreachable(t *testing.T, e *env) {
	ctx := context.Background()
	dsn := e.pg.dsn(fixtures.FreePort(t), "app")
	d := &Databases{DSNs: map[string]string{"app": dsn}, Log: e.log}
	c := content{}
	_, err := d.Migrate(ctx, "app", goodSet(c), c.open)
	if err == nil || !strings.Contains(err.Error(), "ferry:xxxxx@127.0.0.1") {
		t.Fatalf("Migrate: %v; want an error naming the redacted DSN", err)
	}
	e.noSecret(t, "the error", err.Error())
	_, _, err = d.Version(ctx, "app")
	if err == nil {
		t.Fatal("Version of an unreachable database succeeded")
	}
	e.noSecret(t, "the error", err.Error())
	// A DSN ferry cannot use must not be quoted either.
	d.DSNs["app"] = "mysql://ferry:" + e.pg.password + "@127.0.0.1/app"
	_, err = d.Migrate(ctx, "app", goodSet(c), c.open)
	if err == nil {
		t.Fatal("Migrate with a MySQL DSN succeeded")
	}
	e.noSecret(t, "the error", err.Error())
}

func testLockTimeoutInMigration(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	c := content{}
	steps := goodSet(c)
	if _, err := d.Migrate(ctx, "app", steps[:1], c.open); err != nil {
		t.Fatal(err)
	}
	// An application holds a lock the next migration needs; the operator's
	// DSN bounds the wait.
	tx, err := e.raw(t, d).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }() // a clean-up; the rollback below is checked
	if _, err := tx.Exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	d.DSNs["app"] += "&lock_timeout=300ms"
	applied, err := d.Migrate(ctx, "app", steps, c.open)
	if !errors.Is(err, ErrMigration) || !strings.Contains(err.Error(), "002_add_email.up.sql") || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("Migrate: %v; want ErrMigration naming 002_add_email.up.sql and the lock timeout", err)
	}
	e.noSecret(t, "the error", err.Error())
	if len(applied) != 0 {
		t.Errorf("applied %v", applied)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	e.wantVersion(t, d, 1)
}
