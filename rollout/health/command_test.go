package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestCommandProbe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(c Command, timeout time.Duration) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		return c.Check(ctx)
	}

	if err := run(Command{Args: []string{"sh", "-c", "exit 0"}}, 10*time.Second); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	var failure *Failure
	if err := run(Command{Args: []string{"sh", "-c", "exit 1"}}, 10*time.Second); !errors.As(err, &failure) || !contains(err.Error(), "exit status 1") {
		t.Errorf("exit 1 gave %v, want a Failure with the exit status", err)
	}
	if err := run(Command{Args: []string{"sh", "-c", "echo queue stuck >&2; exit 3"}}, 10*time.Second); err == nil || !contains(err.Error(), "exit status 3", "queue stuck") {
		t.Errorf("exit 3 gave %v, want the status and the output", err)
	}
	env := Command{Args: []string{"sh", "-c", `test "$MODE" = smoke && test -f ready`}, Dir: dir, Env: []string{"MODE=smoke"}}
	if err := run(env, 10*time.Second); err != nil {
		t.Errorf("check in its directory with its environment: %v", err)
	}
	env.Env = []string{"MODE=other"}
	if err := run(env, 10*time.Second); err == nil || !contains(err.Error(), dir) {
		t.Errorf("failing check in a directory gave %v, want an error naming the directory", err)
	}
	if err := run(Command{Args: []string{filepath.Join(dir, "missing")}}, 10*time.Second); err == nil || errors.As(err, &failure) {
		t.Errorf("a missing program gave %v, want an error that is not a Failure", err)
	}
	if err := run(Command{}, 10*time.Second); err == nil {
		t.Error("an empty command passed")
	}

	// A check that hangs, with a child holding its output open: the
	// timeout kills the group and Check returns well before the sleeps end.
	start := time.Now()
	err := run(Command{Args: []string{"sh", "-c", "sleep 60 & sleep 60"}}, 200*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging check gave %v, want a timeout", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("hanging check took %v to give up", took)
	}
}

func TestCheckerWithCommand(t *testing.T) {
	c := NewChecker(Command{Args: []string{"sh", "-c", "exit 1"}}, Options{FailureThreshold: 1})
	for range 3 {
		if err := c.Once(t.Context()); err == nil {
			t.Fatal("exit 1 passed")
		}
	}
	if c.Healthy() {
		t.Error("healthy after failures only")
	}
	ok := NewChecker(Command{Args: []string{"true"}}, Options{})
	if err := ok.Once(t.Context()); err != nil || !ok.Healthy() {
		t.Errorf("true: %v, healthy %v", err, ok.Healthy())
	}
}

func TestPrefixWriter(t *testing.T) {
	var w prefixWriter
	big := make([]byte, 3*maxOutput)
	for range 3 {
		if n, err := w.Write(big); n != len(big) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if len(w.buf) != maxOutput {
		t.Errorf("kept %d bytes, want %d", len(w.buf), maxOutput)
	}
}

// TestCommandProbeRunsAsTheService: a command check runs as the service's
// user and group, with no supplementary groups and no_new_privs, not with
// ferry's rights.
func TestCommandProbeRunsAsTheService(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a check as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	script := fmt.Sprintf(`test "$(id -u)" = %s && test "$(id -g)" = %s && grep -q '^Groups:[[:space:]]*$' /proc/self/status && grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status`, nobody.Uid, nobody.Gid)
	c := Command{Args: []string{"sh", "-c", script}, Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{0}}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("check as nobody, no groups, no new privileges: %v", err)
	}
}
