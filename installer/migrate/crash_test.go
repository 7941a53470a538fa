package migrate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/bundle"
)

// slowSet has a second migration that runs for seconds, to be killed in.
// It leaves one row in table slow.
func slowSet(c content, postgres bool) []bundle.Migration {
	slow := "CREATE TABLE slow (x INTEGER);\nINSERT INTO slow VALUES (1);\nSELECT pg_sleep(3);\n"
	if !postgres {
		rows := 2_000_000
		if raceEnabled {
			rows = 50_000
		}
		slow = fmt.Sprintf("CREATE TABLE slow (x INTEGER);\n"+
			"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) INSERT INTO slow SELECT i FROM n;\n"+
			"DELETE FROM slow WHERE x > 1;\n", rows)
	}
	return []bundle.Migration{
		c.step(1, "init", "CREATE TABLE users (id INTEGER PRIMARY KEY);", "DROP TABLE users;"),
		c.step(2, "slow", slow, "DROP TABLE slow;"),
		c.step(3, "after", "CREATE TABLE after_slow (x INTEGER);", "DROP TABLE after_slow;"),
	}
}

// TestKillChild is the process the kill -9 test kills: it migrates the
// database its environment names.
func TestKillChild(t *testing.T) {
	root := os.Getenv("FERRY_MIGRATE_TEST_ROOT")
	if root == "" {
		return // a child process of KillDuringMigration, not a test of its own
	}
	d := &Databases{Root: root}
	dsn := os.Getenv("FERRY_MIGRATE_TEST_DSN")
	if dsn != "" {
		d.DSNs = map[string]string{"app": dsn}
	}
	c := content{}
	_, err := d.Migrate(context.Background(), "app", slowSet(c, dsn != ""), c.open)
	t.Fatalf("Migrate returned (%v); it should have been killed", err)
}

// testKill kills a ferry with SIGKILL in the middle of a long migration;
// the next Migrate repairs the dirty version and applies the rest.
func testKill(t *testing.T, e *env) {
	ctx := context.Background()
	d := e.databases(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
	cmd.Env = append(os.Environ(), "FERRY_MIGRATE_TEST_ROOT="+d.Root, "FERRY_MIGRATE_TEST_DSN="+d.DSNs["app"])
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if e.pg != nil {
		e.pg.waitForQuery(t, d.DSNs["app"], "pg_sleep")
	} else {
		waitDirty(t, d, exited)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err == nil || cmd.ProcessState.Success() {
		t.Fatalf("the child finished before it was killed: %v", err)
	}
	if v, dirty, err := d.Version(ctx, "app"); err != nil || v != 2 || !dirty {
		t.Fatalf("after kill -9: version %d, dirty %v, %v; want 2, dirty", v, dirty, err)
	}
	c := content{}
	applied, err := d.Migrate(ctx, "app", slowSet(c, e.pg != nil), c.open)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(applied, []int{2, 3}) {
		t.Errorf("resumed: applied %v, want [2 3]", applied)
	}
	e.wantVersion(t, d, 3)
	if e.pg != nil && !strings.Contains(e.logs.String(), "ending the session of an interrupted migration") {
		t.Error("the killed ferry's session was not ended")
	}
	if n := e.count(t, d, "slow"); n != 1 {
		t.Errorf("slow has %d rows, want 1: the killed migration's work was kept", n)
	}
	if got := e.recorded(t, d); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("ferry_migrations has %v", got)
	}
}

// waitDirty waits until the child marked version 2 dirty, that is until
// it is inside migration 2.
func waitDirty(t *testing.T, d *Databases, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("the child exited early: %v", err)
		default:
		}
		if v, dirty, err := d.Version(context.Background(), "app"); err == nil && v == 2 && dirty {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the child did not start migration 2 within 30s")
}
