package installer

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/installer/migrate"
	"ferry/internal/testenv"
)

// TestServiceOpensItsDatabase: a service that runs as its own user (here
// ServiceUser, with no supplementary groups, as ferry serve starts it)
// reads and writes the embedded database ferry migrated, through the
// path FERRY_DB_NAME gives it; another user cannot open it, the service
// cannot add a file beside it, and a later update migrates it and leaves
// it usable.
func TestServiceOpensItsDatabase(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("services run as their own user only when ferry runs as root")
	}
	sqlite, err := exec.LookPath("sqlite3")
	if err != nil {
		testenv.SkipOrFail(t, "the test opens the database as a service would, with the sqlite3 program")
	}
	dir := fixtures.ServiceTempDir(t)
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1, b2 := buildBundle(t, dir, "1.0.0", key), buildBundle(t, dir, "1.1.0", key)
	ctx := context.Background()
	if _, err := Install(ctx, b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatal(err)
	}
	run, err := PrepareService(ctx, root, "api", spec.Service{Name: "api", Command: []string{"bin/api"}})
	if err != nil {
		t.Fatal(err)
	}
	path := migrate.SQLitePath(root, "app")
	if filepath.Dir(path) != migrate.DatabasesDir(root) {
		t.Fatalf("database at %s", path)
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}
	if u, err := user.Lookup("nobody"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		nobody = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	svc := run.Account.Credential()
	svc.Groups = []uint32{}
	as := func(cred *syscall.Credential, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	write := func(n int) {
		t.Helper()
		out, err := as(svc, sqlite, path, "CREATE TABLE IF NOT EXISTS svc_wrote (x); INSERT INTO svc_wrote VALUES (1); SELECT count(*) FROM svc_wrote;")
		if err != nil || out != strconv.Itoa(n) {
			t.Fatalf("the service's user could not write its database: %v\n%s", err, out)
		}
	}
	write(1)
	if out, err := as(nobody, sqlite, path, "SELECT count(*) FROM svc_wrote;"); err == nil {
		t.Errorf("another user read the database: %s", out)
	}
	planted := filepath.Join(migrate.DatabasesDir(root), "planted")
	if out, err := as(svc, "/bin/sh", "-c", ": > "+planted); err == nil {
		t.Errorf("the service's user added a file beside the database: %s", out)
	}
	for _, p := range []string{migrate.DatabasesDir(root), path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s: mode %v: others have access", p, fi.Mode().Perm())
		}
	}

	// An update migrates the database the service wrote, and the service
	// goes on using it.
	if _, err := Install(ctx, b2.path, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	write(2)
}
