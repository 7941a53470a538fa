package main

import (
	"strings"
	"testing"
)

// TestSmokeFailureSaysSmoke: a blue-green rollout whose smoke test fails
// is aborted and the release rolled back, and everything the operator
// reads about it says that a smoke test failed, and says it once: the
// exit message of `update apply --wait`, `rollout status`, `history` and
// `audit`. A smoke test that passes is not named twice either.
func TestSmokeFailureSaysSmoke(t *testing.T) {
	// The cause names the smoke tests once, then which one and what it
	// found: not a "health check", which is another gate.
	const smokeFailed = `smoke tests failed on 1.1.0: test 2 of 2: command ["sh" "-c" "echo no orders table >&2; exit 3"]`
	a := newAppliance(t)
	const blueGreen = `          strategy: blue-green
          scaleDownDelay: 1s
          smoke: [{http: /healthz}, {command: [sh, -c, "echo no orders table >&2; exit 3"]}]`
	a.ferry("install", a.bundle("1.0.0", blueGreen), "--key", "release.pub")
	a.serve()
	a.waitFor("serving 1.0.0", serving("1.0.0"))

	out, code := a.run("update", "apply", a.bundle("1.1.0", blueGreen), "--wait", "--timeout", "2m")
	if code != exitAborted {
		t.Fatalf("update apply --wait of a release whose smoke test fails: exit %d, want %d\n%s", code, exitAborted, out)
	}
	var last string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "ferry: ") {
			last = l
		}
	}
	if !strings.Contains(last, smokeFailed) || !strings.Contains(last, "no orders table") {
		t.Errorf("--wait's exit message does not say which smoke test failed and why: %q\n%s", last, out)
	}
	if n := strings.Count(out, "exit status 3: no orders table"); n != 1 {
		t.Errorf("--wait's output gives the cause of the abort %d times, want once:\n%s", n, out)
	}
	if why := saidTwice(strings.TrimPrefix(last, "ferry: ")); why != "" {
		t.Errorf("--wait's exit message: %s: %q", why, last)
	}
	if cur := a.current(); cur != "1.0.0" {
		t.Fatalf("current %q after the smoke test failed, want 1.0.0", cur)
	}

	for _, args := range [][]string{{"rollout", "status", "api"}, {"history"}, {"audit"}} {
		out := strings.ReplaceAll(a.ferry(args...), `\"`, `"`) // audit quotes values
		if !strings.Contains(out, smokeFailed) {
			t.Errorf("ferry %s does not say that a smoke test failed:\n%s", strings.Join(args, " "), out)
		}
		if strings.Contains(out, "health check") || strings.Contains(out, "smoke test 2") || strings.Contains(out, "smoke tests passed on 1.1.0: smoke") {
			t.Errorf("ferry %s calls the smoke test something else, or says smoke twice:\n%s", strings.Join(args, " "), out)
		}
	}
}
