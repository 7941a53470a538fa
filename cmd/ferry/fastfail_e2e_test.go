package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"ferry/fixtures/load"
	"ferry/rollout/serve"
)

// TestServeFastFail: a canary answering every request with 500 is aborted
// by the fast-fail check within its first step, long before the step's
// ten-minute interval ends and below its minRequests of 1000, and the
// release goes back to the stable version.
func TestServeFastFail(t *testing.T) {
	a := newAppliance(t)
	const rollout = `          strategy: canary
          steps: [20, 100]
          interval: 10m
          analysis: {errorRate: 1%, minRequests: 1000}`
	a.ferry("install", a.bundle("1.0.0", rollout), "--key", "release.pub")
	next := a.bundle("1.1.0", rollout, "--error-rate", "1")
	a.serve()
	a.waitFor("serving 1.0.0", serving("1.0.0"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = load.Run(ctx, load.Options{URL: "http://" + a.listen + "/", Concurrency: 2, Rate: 50, Duration: 5 * time.Minute})
	}()
	a.ferry("install", next)
	st := a.waitFor("the canary to abort", func(st []serve.ServiceStatus) bool {
		r := st[0].Rollout
		return r != nil && r.New == "1.1.0" && r.Phase == "aborted"
	})
	if cause := st[0].Rollout.AbortCause; !strings.Contains(cause, "critical error rate") || !strings.Contains(cause, "step 1 of 2") {
		t.Fatalf("abort cause %q, want a critical error rate at step 1", cause)
	}
	a.waitFor("1.0.0 current again", func([]serve.ServiceStatus) bool { return a.current() == "1.0.0" })
}
