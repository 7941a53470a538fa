package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ferry/fixtures/load"
	"ferry/rollout/serve"
)

// canaryRollout is a quick canary for the tests; approval, when given,
// is its approval list.
func canaryRollout(approval string) string {
	r := `          strategy: canary
          steps: [50, 100]
          interval: 300ms
          analysis: {errorRate: 5%, minRequests: 5}`
	if approval != "" {
		r += "\n          approval: " + approval
	}
	return r
}

// traffic sends requests to the service's address until the test ends.
func (a *appliance) traffic() {
	ctx, cancel := context.WithCancel(context.Background())
	a.t.Cleanup(cancel)
	go func() {
		_, _ = load.Run(ctx, load.Options{URL: "http://" + a.listen + "/", Concurrency: 2, Rate: 100, Duration: 10 * time.Minute})
	}()
}

// TestInstallWait: `install --wait` and `update apply --wait` exit with
// the rollout's outcome: 0 when promoted, exitAborted when the analysis
// aborted it and the release went back, exitWaitTime when it is still
// waiting for approval at --timeout.
func TestInstallWait(t *testing.T) {
	a := newAppliance(t)
	a.ferry("install", a.bundle("1.0.0", canaryRollout("")), "--key", "release.pub")
	a.serve()
	a.waitFor("serving 1.0.0", serving("1.0.0"))
	a.traffic()

	out, code := a.run("install", a.bundle("1.1.0", canaryRollout("")), "--wait", "--timeout", "2m")
	if code != 0 || !strings.Contains(out, "api: promoted") || !strings.Contains(out, "current 1.1.0") {
		t.Fatalf("install --wait of a good release: exit %d\n%s", code, out)
	}
	if cur := a.current(); cur != "1.1.0" {
		t.Fatalf("current %q after the promotion, want 1.1.0", cur)
	}

	out, code = a.run("update", "apply", a.bundle("1.2.0", canaryRollout(""), "--error-rate", "1"), "--wait", "--timeout", "2m")
	if code != exitAborted || !strings.Contains(out, "api: aborted") || !strings.Contains(out, "current 1.1.0") {
		t.Fatalf("update apply --wait of a failing release: exit %d, want %d\n%s", code, exitAborted, out)
	}
	if cur := a.current(); cur != "1.1.0" {
		t.Fatalf("current %q after the abort, want 1.1.0 again", cur)
	}

	out, code = a.run("install", a.bundle("1.3.0", canaryRollout("[50]")), "--wait", "--timeout", "3s", "--json")
	if code != exitWaitTime || !strings.Contains(out, `"result": "pending"`) || !strings.Contains(out, "timed out waiting for the rollout") {
		t.Fatalf("install --wait of a rollout waiting for approval: exit %d, want %d\n%s", code, exitWaitTime, out)
	}
}

// TestInstallWhileServeDown: an update installed while ferry serve is not
// running is announced on stderr and rolled out when serve starts, by its
// canary (held at its approval step at 50%), not switched at once; an
// install --wait with serve down says so, waits for serve and exits with
// the rollout's outcome.
func TestInstallWhileServeDown(t *testing.T) {
	a := newAppliance(t)
	a.ferry("install", a.bundle("1.0.0", canaryRollout("[50]")), "--key", "release.pub")
	first := a.serve()
	a.waitFor("serving 1.0.0", serving("1.0.0"))
	if err := stopServe(first); err != nil {
		t.Fatal(err)
	}
	a.traffic()

	out, code := a.run("install", a.bundle("1.1.0", canaryRollout("[50]")))
	if code != 0 || !strings.Contains(out, "warning: ferry serve is not running") || !strings.Contains(out, "runs when it starts") {
		t.Fatalf("install with serve down: exit %d, want 0 and a warning\n%s", code, out)
	}
	second := a.serve()
	st := a.waitFor("the deferred canary at its approval step", func(st []serve.ServiceStatus) bool {
		r := st[0].Rollout
		return r != nil && r.New == "1.1.0" && r.Phase == "waiting-approval"
	})
	if r := st[0].Rollout; r.Stable != "1.0.0" || r.NewWeight != 50 || st[0].Stable != "1.0.0" {
		t.Fatalf("deferred rollout %+v, stable %s: want 1.0.0 -> 1.1.0 held at 50%%", r, st[0].Stable)
	}
	a.ferry("rollout", "promote", "api")
	a.waitFor("serving 1.1.0", serving("1.1.0"))
	if err := stopServe(second); err != nil {
		t.Fatal(err)
	}

	// --wait with serve down: it says so and waits for serve.
	cmd := exec.Command(a.bin, "install", a.bundle("1.2.0", canaryRollout("[50]")), "--wait", "--timeout", "3m")
	var waitOut bytes.Buffer
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = a.dir, a.env, &waitOut, &waitOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for deadline := time.Now().Add(2 * time.Minute); a.current() != "1.2.0" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	a.serve()
	a.waitFor("1.2.0 at its approval step", func(st []serve.ServiceStatus) bool {
		r := st[0].Rollout
		return r != nil && r.New == "1.2.0" && r.Phase == "waiting-approval"
	})
	a.ferry("rollout", "promote", "api")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("install --wait: %v\n%s", err, waitOut.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("install --wait did not end\n%s", waitOut.String())
	}
	out = waitOut.String()
	if code := cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(out, "ferry serve is not running") || !strings.Contains(out, "api: promoted") {
		t.Fatalf("install --wait with serve down, then started: exit %d\n%s", code, out)
	}
}
