package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"ferry/internal/testenv"
	"ferry/rollout/serve"
)

// TestRolloutStatusWatch: `rollout status --watch` follows a canary to
// its end, a plain line per change when stdout is not a terminal, and
// exits 0 once it succeeded; on a terminal (under script(1)) it draws
// the view in place with escape sequences.
func TestRolloutStatusWatch(t *testing.T) {
	a := newAppliance(t)
	a.ferry("install", a.bundle("1.0.0", canaryRollout("")), "--key", "release.pub")
	a.serve()
	a.waitFor("serving 1.0.0", serving("1.0.0"))
	a.traffic()
	a.ferry("install", a.bundle("1.1.0", canaryRollout("")))
	a.waitFor("the rollout of 1.1.0", func(st []serve.ServiceStatus) bool {
		return st[0].Rollout != nil && st[0].Rollout.New == "1.1.0"
	})

	out, code := a.run("rollout", "status", "--watch", "--timeout", "2m")
	if code != 0 {
		t.Fatalf("rollout status --watch: exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "api: canary 1.0.0 -> 1.1.0 succeeded") || strings.Contains(out, "\x1b[") {
		t.Fatalf("plain --watch output, want lines ending with the success and no escapes:\n%s", out)
	}
	if !strings.Contains(out, "weights") || !strings.Contains(out, "last decision") {
		t.Fatalf("plain --watch lines without weights or decisions:\n%s", out)
	}

	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script(1) (util-linux) is needed to give ferry a terminal: %v", err)
	}
	cmd := exec.Command("script", "-qec", a.bin+" rollout status --watch --timeout 1m", "/dev/null")
	cmd.Dir, cmd.Env = a.dir, a.env
	tty, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(tty), "\x1b[H\x1b[2J") || !strings.Contains(string(tty), "api on "+a.listen) {
		t.Fatalf("--watch on a terminal: %v, want the view drawn in place:\n%q", err, tty)
	}
}

// TestRolloutStatusWatchWaits: `rollout status --watch` started before
// ferry serve has taken up a release just installed waits for it instead
// of reporting the release before (and exiting 0): until --timeout while
// serve has not looked yet (a tick of an hour), and, started while serve
// is not running at all, until serve starts, then it follows the
// rollout to its end.
func TestRolloutStatusWatchWaits(t *testing.T) {
	a := newAppliance(t)
	a.ferry("install", a.bundle("1.0.0", canaryRollout("")), "--key", "release.pub")
	slow := a.serveTick("1h")
	a.waitFor("serving 1.0.0", serving("1.0.0"))
	// With every release taken up, a service no release has is refused
	// at once.
	out, code := a.run("rollout", "status", "--watch", "worker", "--timeout", "1m")
	if code != 1 || !strings.Contains(out, `no service "worker"`) {
		t.Fatalf("rollout status --watch of an unknown service: exit %d, want 1 at once, naming it\n%s", code, out)
	}
	a.ferry("install", a.bundle("1.1.0", canaryRollout("")))
	out, code = a.run("rollout", "status", "--watch", "--timeout", "3s")
	if code != exitWaitTime || !strings.Contains(out, "release 1.1.0 is current, ferry serve has not taken it up yet") {
		t.Fatalf("rollout status --watch before serve took up 1.1.0: exit %d, want %d and a line saying so\n%s", code, exitWaitTime, out)
	}
	// A service the release not yet taken up may add is waited for.
	out, code = a.run("rollout", "status", "--watch", "worker", "--timeout", "3s")
	if code != exitWaitTime || !strings.Contains(out, `no service "worker" is served yet: waiting for ferry serve to take up release 1.1.0`) {
		t.Fatalf("rollout status --watch of a service 1.1.0 may add: exit %d, want %d and a line saying it waits\n%s", code, exitWaitTime, out)
	}
	if err := stopServe(slow); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(a.bin, "rollout", "status", "--watch", "--timeout", "3m")
	var watchOut testenv.Buffer
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = a.dir, a.env, &watchOut, &watchOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for deadline := time.Now().Add(time.Minute); !strings.Contains(watchOut.String(), "ferry serve is not running"); {
		select {
		case err := <-done:
			t.Fatalf("rollout status --watch with no ferry serve ended at once: %v\n%s", err, watchOut.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout status --watch with no ferry serve did not say it waits for it:\n%s", watchOut.String())
		}
	}
	a.serve()
	a.traffic()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("rollout status --watch did not end\n%s", watchOut.String())
	}
	out = watchOut.String()
	if err != nil || !strings.Contains(out, "api: canary 1.0.0 -> 1.1.0 succeeded") {
		t.Fatalf("rollout status --watch started before serve: %v, want exit 0 and the rollout of 1.1.0 to its end\n%s", err, out)
	}
}
