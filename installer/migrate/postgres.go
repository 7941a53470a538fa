package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"time"

	pgxdrv "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

const (
	// advisoryLock is the PostgreSQL advisory lock key ("ferrymig") that
	// ferry holds on a database while it migrates it. Advisory locks are
	// per database, so one key serves every database.
	advisoryLock = int64(0x66657272796d6967)
	// appName marks ferry's migration sessions in pg_stat_activity, so that
	// a peer can say who holds the lock and find the sessions of a ferry
	// that was killed.
	appName = "ferry-migrate"
	// connectTimeout applies when the DSN sets none: an unreachable
	// server is reported, not waited for.
	connectTimeout = 15 * time.Second
	// lockPoll is how often a waiting migration retries the lock.
	lockPoll = 250 * time.Millisecond
)

// dsnPassword returns the password a DSN carries, so that it can be
// scrubbed from errors that quote the DSN.
func dsnPassword(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok {
		return p
	}
	return u.Query().Get("password")
}

// openPostgres connects to the database at dsn and takes ferry's advisory
// lock on it, waiting at most d.LockWait.
func (d *Databases) openPostgres(ctx context.Context, name, dsn string) (*target, error) {
	t := &target{name: name, kind: kindPostgres, where: Redact(dsn), password: dsnPassword(dsn), log: d.log()}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, t.errorf("not a PostgreSQL URL: give postgres://USER:PASSWORD@HOST:PORT/DATABASE")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, t.errorf("%w", err)
	}
	if cfg.Password != "" {
		t.password = cfg.Password
	}
	cfg.RuntimeParams["application_name"] = fmt.Sprintf("%s pid %d", appName, os.Getpid())
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	t.db = stdlib.OpenDB(*cfg)
	t.db.SetMaxOpenConns(4)
	lock, err := t.db.Conn(ctx)
	if err != nil {
		t.db.Close()
		return nil, t.errorf("connect: %w", err)
	}
	if err := t.lockPostgres(ctx, lock, d.lockWait()); err != nil {
		lock.Close()
		t.db.Close()
		return nil, err
	}
	t.release = append(t.release, func() {
		// Closing the session releases the lock in any case; unlocking
		// first returns a clean connection to a pool being closed.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = lock.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", advisoryLock)
		lock.Close()
	})
	fail := func(err error) (*target, error) {
		for _, f := range t.release {
			f()
		}
		t.db.Close()
		return nil, err
	}
	// Before golang-migrate's driver: it takes golang-migrate's own lock,
	// which a killed ferry's session may still hold while its migration
	// runs on to a commit.
	if err := t.endOrphans(ctx); err != nil {
		return fail(err)
	}
	if _, err := t.db.ExecContext(ctx, postgresRecordTable); err != nil {
		return fail(t.errorf("create %s: %w", recordTable, err))
	}
	drv, err := pgxdrv.WithInstance(t.db, &pgxdrv.Config{})
	if err != nil {
		return fail(t.errorf("%w", err))
	}
	t.drv = drv
	return t, nil
}

// lockPostgres takes ferry's advisory lock on the session of conn. While
// another session holds it, it says who and retries until wait is over.
func (t *target) lockPostgres(ctx context.Context, conn *sql.Conn, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	told := false
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", advisoryLock).Scan(&ok); err != nil {
			if ctx.Err() != nil {
				return t.errorf("%w: %w", ErrLocked, ctx.Err())
			}
			return t.errorf("take the migration lock: %w", err)
		}
		if ok {
			return nil
		}
		holder := t.lockHolder(ctx, conn)
		if time.Now().After(deadline) {
			return t.errorf("%w (%s) for more than %s; try again when it is done", ErrLocked, holder, wait)
		}
		if !told {
			t.log.Info("waiting for another migration of the database", "database", t.name, "holder", holder)
			told = true
		}
		select {
		case <-ctx.Done():
			return t.errorf("%w (%s): %w", ErrLocked, holder, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

// lockHolder describes the session holding ferry's advisory lock, for the
// operator: its application, backend pid and client address.
func (t *target) lockHolder(ctx context.Context, conn *sql.Conn) string {
	const q = `SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket')
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1`
	var (
		pid         int
		app, client string
	)
	err := conn.QueryRowContext(ctx, q, advisoryLock>>32, advisoryLock&0xffffffff).Scan(&pid, &app, &client)
	if err != nil {
		return "holder unknown"
	}
	if app == "" {
		app = "unnamed session"
	}
	return fmt.Sprintf("%s, backend pid %d, from %s", app, pid, client)
}

// endOrphans ends the sessions of a ferry that was killed in the middle of
// a migration. The server may not notice a dead client until the running
// statement ends, and its transaction could still commit after this
// ferry has read what is recorded. Only a session that is ferry's and has
// written something is ended: a live peer does not write without the lock
// this ferry holds.
func (t *target) endOrphans(ctx context.Context) error {
	const q = `SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND application_name LIKE '` + appName + `%' AND backend_xid IS NOT NULL`
	deadline := time.Now().Add(time.Minute)
	for ended := map[int]bool{}; ; {
		rows, err := t.db.QueryContext(ctx, q)
		if err != nil {
			return t.errorf("list sessions: %w", err)
		}
		var pids []int
		for rows.Next() {
			var pid int
			if err := rows.Scan(&pid); err != nil {
				rows.Close()
				return t.errorf("list sessions: %w", err)
			}
			pids = append(pids, pid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t.errorf("list sessions: %w", err)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return t.errorf("the session (backend pid %d) of an interrupted migration does not end; ask the database administrator to end it", pids[0])
		}
		for _, pid := range pids {
			if ended[pid] {
				continue
			}
			ended[pid] = true
			t.log.Warn("ending the session of an interrupted migration", "database", t.name, "backend_pid", pid)
			if _, err := t.db.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
				return t.errorf("end the session (backend pid %d) of an interrupted migration: %w", pid, err)
			}
		}
		select {
		case <-ctx.Done():
			return t.errorf("%w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
