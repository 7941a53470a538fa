package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/fixtures/load"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/rollout"
)

const canary = `        rollout:
          strategy: canary
          steps: [10, 50, 100]
          interval: 400ms
          analysis: {errorRate: 1%, minRequests: 20}
`

// startLoad sends steady traffic to the service until the returned
// function is called, which returns the result.
func (a *appliance) startLoad() func() load.Result {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan load.Result, 1)
	go func() {
		res, err := load.Run(ctx, load.Options{URL: "http://" + a.listen + "/", Concurrency: 4, Rate: 300, Duration: 5 * time.Minute, Samples: 1 << 16})
		if err != nil {
			a.t.Errorf("load: %v", err)
		}
		done <- res
	}()
	return func() load.Result {
		cancel()
		return <-done
	}
}

// failures lists the failed requests of a load among its kept samples:
// when each was sent, how long it took, and the version that answered.
func failures(res load.Result) string {
	var out []string
	for _, s := range res.Samples {
		if s.Status == 0 || s.Status >= 500 {
			out = append(out, fmt.Sprintf("%d from %q sent %s, after %v", s.Status, s.Version, s.Start.UTC().Format("15:04:05.000000"), s.Latency))
		}
	}
	return strings.Join(out, "; ")
}

// TestCanaryHealthy: a healthy new version goes through every step to all
// the traffic under load, with no failed request, and the old one stops.
func TestCanaryHealthy(t *testing.T) {
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, canary))
	a.serve(100 * time.Millisecond)
	stopLoad := a.startLoad()
	a.install(a.bundle("1.1.0", nil, canary))
	st := a.waitStatus("the canary to succeed", phase(rollout.PhaseSucceeded), 60*time.Second)
	res := stopLoad()
	if st[0].Stable != "1.1.0" || len(st[0].Versions) != 1 {
		t.Fatalf("after success: %s", describe(st))
	}
	if res.Failed > 0 || res.ByVersion["1.1.0"] == 0 || res.ByVersion["1.0.0"] == 0 {
		t.Fatalf("load: %d of %d failed, by version %v", res.Failed, res.Total, res.ByVersion)
	}
	// The worker has no public address: it is restarted on the new
	// release, without a rollout.
	a.waitStatus("the worker on 1.1.0", func(st []ServiceStatus) bool {
		w := st[1]
		return w.Service == "worker" && w.Stable == "1.1.0" && len(w.Versions) == 1 && w.Versions[0].Healthy && w.Rollout == nil
	}, 20*time.Second)
	steps := auditRollout(t, a.root, "rollout.advance")
	if steps < 3 {
		t.Fatalf("%d steps advanced, want 3 (10, 50, 100)", steps)
	}
	t.Logf("%d requests, by version %v, p99 %s", res.Total, res.ByVersion, res.Latency.P99)
}

// TestCanaryFailingAborts: a new version failing 5% of requests is aborted
// at its first analysis with enough requests; all traffic goes back to the
// stable version at once, and the release is rolled back.
func TestCanaryFailingAborts(t *testing.T) {
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, canary))
	a.serve(100 * time.Millisecond)
	stopLoad := a.startLoad()
	a.install(a.bundle("1.1.0", []string{"--error-rate", "0.05"}, canary))
	st := a.waitStatus("the canary to abort", phase(rollout.PhaseAborted), 60*time.Second)
	decided := st[0].Rollout.LastDecision.Time
	time.Sleep(500 * time.Millisecond)
	res := stopLoad()
	// The decision's time is taken just before it is made; the router
	// switches right after, so allow for that moment (and the race
	// detector's slowness).
	if after := res.VersionsAfter(decided.Add(50 * time.Millisecond)); after["1.1.0"] > 0 {
		t.Fatalf("%d requests reached 1.1.0 after the abort decision at %s", after["1.1.0"], decided)
	}
	if st[0].Rollout.Step != 1 {
		t.Errorf("aborted at step %d, want the first (10%%)", st[0].Rollout.Step)
	}
	a.waitCurrent("1.0.0")
	st = a.waitStatus("the canary to stop", func(st []ServiceStatus) bool { return len(st[0].Versions) == 1 }, 20*time.Second)
	if st[0].Stable != "1.0.0" || st[0].Versions[0].Version != "1.0.0" {
		t.Fatalf("after the abort: %s", describe(st))
	}
	a.waitStatus("the worker back on 1.0.0", func(st []ServiceStatus) bool {
		return st[1].Stable == "1.0.0" && len(st[1].Versions) == 1
	}, 20*time.Second)
	if auditRollout(t, a.root, "rollout.release-rolled-back") != 1 {
		t.Fatal("the release rollback is not in the audit log")
	}
	t.Logf("abort: %s; load %d requests by version %v", st[0].Rollout.AbortCause, res.Total, res.ByVersion)
}

// TestBlueGreenUnderLoad: green starts, passes health and its smoke test,
// takes all traffic at once; no request fails.
func TestBlueGreenUnderLoad(t *testing.T) {
	bg := `        rollout:
          strategy: blue-green
          scaleDownDelay: 300ms
          smoke: [{http: /healthz}, {command: [bin/testservice, --self-check]}]
`
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, bg))
	a.serve(100 * time.Millisecond)
	stopLoad := a.startLoad()
	time.Sleep(300 * time.Millisecond)
	a.install(a.bundle("1.1.0", nil, bg))
	st := a.waitStatus("the switch", phase(rollout.PhaseSucceeded), 60*time.Second)
	time.Sleep(300 * time.Millisecond)
	res := stopLoad()
	if res.Failed > 0 || res.ByVersion["1.1.0"] == 0 || st[0].Stable != "1.1.0" {
		t.Fatalf("load: %d of %d failed (%d without an answer, by status %v: %s), by version %v; %s", res.Failed, res.Total, res.TransportErrors, res.ByStatus, failures(res), res.ByVersion, describe(st))
	}
}

// TestApprovalPromoteAbortAndResume: a step that needs approval waits for
// promote; ferry serve stopped and started again resumes at the saved
// step; abort at the operator's word rolls back.
func TestApprovalPromoteAbortAndResume(t *testing.T) {
	approve := `        rollout:
          strategy: canary
          steps: [10, 50, 100]
          interval: 300ms
          approval: [10, 50]
          analysis: {errorRate: 5%, minRequests: 5}
`
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, approve))
	stop := a.serve(100 * time.Millisecond)
	stopLoad := a.startLoad()
	defer stopLoad()
	a.install(a.bundle("1.1.0", nil, approve))
	a.waitStatus("approval at 10%", func(st []ServiceStatus) bool {
		r := st[0].Rollout
		return r != nil && r.Phase == rollout.PhaseWaitingApproval && r.NewWeight == 10
	}, 60*time.Second)
	time.Sleep(time.Second) // it waits, and does not go on by itself
	c := NewClient(a.root)
	st, err := c.Status(context.Background())
	if err != nil || st[0].Rollout.NewWeight != 10 {
		t.Fatalf("went past an approval step without promote: %s (%v)", describe(st), err)
	}
	_, refusedResume := c.Command(context.Background(), "api", "resume")
	if !errors.Is(refusedResume, rollout.ErrRefused) {
		t.Fatalf("resume of a rollout that is not paused: %v", refusedResume)
	}
	if _, err := c.Command(context.Background(), "api", "promote"); err != nil {
		t.Fatal(err)
	}
	a.waitStatus("approval at 50%", func(st []ServiceStatus) bool {
		r := st[0].Rollout
		return r != nil && r.Phase == rollout.PhaseWaitingApproval && r.NewWeight == 50
	}, 60*time.Second)

	// Stop ferry serve and start it again: the rollout is where it was.
	stop()
	a.serve(100 * time.Millisecond)
	st = a.waitStatus("the resumed rollout", func(st []ServiceStatus) bool {
		r := st[0].Rollout
		return r != nil && len(st[0].Versions) == 2
	}, 30*time.Second)
	if r := st[0].Rollout; r.Phase != rollout.PhaseWaitingApproval || r.NewWeight != 50 {
		t.Fatalf("after a restart: %s", describe(st))
	}
	if _, err := c.Command(context.Background(), "api", "abort"); err != nil {
		t.Fatal(err)
	}
	st = a.waitStatus("the abort", phase(rollout.PhaseAborted), 20*time.Second)
	if cause := st[0].Rollout.AbortCause; cause != "aborted by the operator" {
		t.Errorf("abort cause %q, want it said once", cause)
	}
	a.waitCurrent("1.0.0")

	// Each command is audited with what became of it.
	var got []string
	for _, e := range auditEntries(t, a.root, "rollout.command") {
		got = append(got, e.Fields["command"]+" "+e.Fields["outcome"]+" "+e.Fields["reason"])
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "resume refused ") || len(got[0]) < len("resume refused x") || got[1] != "promote accepted " || got[2] != "abort accepted " {
		t.Errorf("audited commands %q, want resume refused with the reason, promote and abort accepted", got)
	}
}

func (a *appliance) waitCurrent(version string) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if target, _ := os.Readlink(filepath.Join(a.root, "current")); target == filepath.Join("releases", version) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	target, _ := os.Readlink(filepath.Join(a.root, "current"))
	a.t.Fatalf("current -> %s, want releases/%s", target, version)
}

// auditRollout counts the audit entries of an event.
func auditRollout(t *testing.T, root, event string) int {
	t.Helper()
	return len(auditEntries(t, root, event))
}

// auditEntries returns the audit entries of an event.
func auditEntries(t *testing.T, root, event string) []state.AuditEntry {
	t.Helper()
	var out []state.AuditEntry
	for range 50 {
		db, err := state.OpenReadOnly(root)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		log, err := db.AuditLog()
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range log {
			if e.Event == event {
				out = append(out, e)
			}
		}
		return out
	}
	t.Fatal("cannot read the audit log")
	return nil
}

// TestManualRollbackBringsServicesBack: `ferry rollback` while serving
// brings the kept release's services back at once, with no failed request.
func TestManualRollbackBringsServicesBack(t *testing.T) {
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, canary))
	a.serve(100 * time.Millisecond)
	a.install(a.bundle("1.1.0", nil, canary))
	stopLoad := a.startLoad()
	a.waitStatus("the canary to succeed", phase(rollout.PhaseSucceeded), 60*time.Second)
	if _, err := installer.Rollback(context.Background(), a.root, installer.RollbackOptions{}); err != nil {
		t.Fatal(err)
	}
	st := a.waitStatus("1.0.0 back", func(st []ServiceStatus) bool {
		return st[0].Stable == "1.0.0" && len(st[0].Versions) == 1
	}, 30*time.Second)
	res := stopLoad()
	if res.Failed > 0 {
		t.Fatalf("%d of %d requests failed during the rollback", res.Failed, res.Total)
	}
	if r := st[0].Rollout; r == nil || r.Strategy != "blue-green" || r.New != "1.0.0" {
		t.Fatalf("the way back: %s", describe(st))
	}
}
