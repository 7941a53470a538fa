package main

import (
	"os/exec"
	"strings"
	"testing"

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
