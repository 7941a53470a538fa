package migrate

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"ferry/fixtures"
	"ferry/internal/testenv"
)

// testServer is a throwaway PostgreSQL server: its own data directory,
// a loopback port and a socket in that directory, a role "ferry" with a
// password, stopped and removed when the test ends.
type testServer struct {
	port     int
	password string
	admin    *sql.DB
	n        atomic.Int32
}

// pgBin finds PostgreSQL's server programs: on PATH, or where Debian's
// postgresql package puts them.
func pgBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return ""
	}
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return va - vb
	})
	return filepath.Dir(dirs[len(dirs)-1])
}

// startPostgres starts a server for the test. Without PostgreSQL's
// programs it installs Debian's postgresql package when it can (as root,
// with apt-get), and skips the test only when it cannot.
func startPostgres(t *testing.T) *testServer {
	t.Helper()
	bin := pgBin()
	if bin == "" && os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			cmd := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "postgresql")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("apt-get install postgresql: %v\n%s", err, out)
			}
			bin = pgBin()
		}
	}
	if bin == "" {
		testenv.SkipOrFail(t, "PostgreSQL tests need initdb and pg_ctl: install Debian's postgresql package (make deps does)")
	}

	dir, err := os.MkdirTemp("", "ferry-pg-")
	if err != nil {
		t.Fatal(err)
	}
	// initdb refuses to run as root: run the server as an unprivileged user.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("no unprivileged user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--no-sync",
		"--auth-local=trust", "--auth-host=scram-sha-256"); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	port := fixtures.FreePort(t)
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c synchronous_commit=off", port, dir)
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		os.RemoveAll(dir)
		t.Fatalf("%v\n%s", err, log)
	}
	s := &testServer{port: port, password: "p@ss:w/rd-" + randomHex(t)}
	t.Cleanup(func() {
		if s.admin != nil {
			s.admin.Close()
		}
		if err := run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Log(err)
		}
		os.RemoveAll(dir)
	})
	s.admin, err = sql.Open("pgx", fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", dir, port))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.Exec(fmt.Sprintf("CREATE ROLE ferry LOGIN PASSWORD '%s'", s.password)); err != nil {
		t.Fatal(err)
	}
	return s
}

// newDatabase creates an empty database owned by ferry and returns its DSN.
func (s *testServer) newDatabase(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("app%d", s.n.Add(1))
	if _, err := s.admin.Exec(fmt.Sprintf("CREATE DATABASE %s OWNER ferry", name)); err != nil {
		t.Fatal(err)
	}
	return s.dsn(s.port, name)
}

func (s *testServer) dsn(port int, database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("ferry", s.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// waitForQuery waits until a session of the database at dsn runs a
// statement containing text.
func (s *testServer) waitForQuery(t *testing.T, dsn, text string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dbname := u.Path[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		var n int
		err := s.admin.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE '%' || $2 || '%' AND pid <> pg_backend_pid()", dbname, text).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no session of %s ran %q within 30s", dbname, text)
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
