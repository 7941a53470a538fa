package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/bundle/spec"
)

func TestBlueGreenHappyPath(t *testing.T) {
	d, acts := startRollout(t, blueGreenSpec())
	if got, want := kinds(acts), []string{"StartNew:1.5.0", "Record:start"}; !slices.Equal(got, want) {
		t.Fatalf("Start actions = %v, want %v", got, want)
	}
	d.now = d.now.Add(5 * time.Second)
	acts = d.send(Healthy{})
	if got, want := kinds(acts), []string{"RunSmoke:1.5.0", "Record:smoke"}; !slices.Equal(got, want) {
		t.Fatalf("Healthy actions = %v, want %v", got, want)
	}
	d.wantPhase(PhaseSmoke)
	if acts := d.tick(time.Minute, good(100), good(100)); len(acts) != 0 {
		t.Fatalf("tick during smoke tests: %v", kinds(acts))
	}
	acts = d.send(SmokeResult{OK: true, Reason: "GET /healthz 200, bin/api --self-check exit 0"})
	if got, want := kinds(acts), []string{"SetWeight:100", "Record:switch"}; !slices.Equal(got, want) {
		t.Fatalf("smoke actions = %v, want %v", got, want)
	}
	d.wantPhase(PhaseSwitched)
	if d.s.NextAnalysis != d.now.Add(DefaultScaleDownDelay) {
		t.Fatalf("scale-down at %v, want %v after the switch", d.s.NextAnalysis, DefaultScaleDownDelay)
	}
	if acts := d.tick(DefaultScaleDownDelay-time.Second, Sample{}, Sample{}); len(acts) != 0 {
		t.Fatalf("tick within the delay: %v", kinds(acts))
	}
	acts = d.tick(time.Second, Sample{}, Sample{})
	if got, want := kinds(acts), []string{"StopOld:1.4.0", "Record:succeed", "Done:succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("end of delay actions = %v, want %v", got, want)
	}
	d.wantPhase(PhaseSucceeded)
}

func TestBlueGreenSmokeFailure(t *testing.T) {
	d, _ := startRollout(t, blueGreenSpec())
	if msg := d.refused(SmokeResult{OK: true}); !strings.Contains(msg, "no smoke tests are running") {
		t.Fatalf("smoke result while starting: %s", msg)
	}
	d.send(Healthy{})
	acts := d.send(SmokeResult{OK: false, Reason: "GET /api/v1/ping: 500"})
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("actions = %v, want %v", got, abortKinds())
	}
	if want := "smoke tests failed on 1.5.0: GET /api/v1/ping: 500"; d.s.AbortCause != want {
		t.Fatalf("cause = %q, want %q", d.s.AbortCause, want)
	}
}

func TestBlueGreenUnhealthyGreen(t *testing.T) {
	for _, phase := range []Phase{PhaseStarting, PhaseSmoke, PhaseWaitingApproval, PhaseSwitched} {
		t.Run(string(phase), func(t *testing.T) {
			d, _ := startRollout(t, blueGreenSpec(100))
			driveBlueGreenTo(d, phase)
			acts := d.send(Unhealthy{Reason: "connection refused"})
			if got := kinds(acts); !slices.Equal(got, abortKinds()) {
				t.Fatalf("actions = %v, want %v", got, abortKinds())
			}
			if want := "1.5.0 is unhealthy: connection refused"; d.s.AbortCause != want {
				t.Fatalf("cause = %q, want %q", d.s.AbortCause, want)
			}
		})
	}
}

func TestBlueGreenAbortDuringScaleDownIsInstant(t *testing.T) {
	d, _ := startRollout(t, blueGreenSpec())
	driveBlueGreenTo(d, PhaseSwitched)
	d.now = d.now.Add(DefaultScaleDownDelay / 2)
	acts := d.send(Abort{Reason: "customer reports"})
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("actions = %v, want %v", got, abortKinds())
	}
	// The weight change comes first: blue is still running and takes the
	// traffic back before anything else happens.
	if sw, ok := acts[0].(SetWeight); !ok || sw.CanaryPercent != 0 {
		t.Fatalf("first action %#v, want SetWeight 0", acts[0])
	}
	for _, a := range acts {
		if _, ok := a.(StopOld); ok {
			t.Fatal("blue was stopped on rollback")
		}
	}
	if want := "aborted by the operator: customer reports"; d.s.AbortCause != want {
		t.Fatalf("cause = %q, want %q", d.s.AbortCause, want)
	}
}

func TestBlueGreenApproval(t *testing.T) {
	d, _ := startRollout(t, blueGreenSpec(100))
	if msg := d.refused(Promote{}); !strings.Contains(msg, "not waiting for approval yet") {
		t.Fatalf("promote while starting: %s", msg)
	}
	d.send(Healthy{})
	acts := d.send(SmokeResult{OK: true})
	if got, want := kinds(acts), []string{"Record:wait-approval"}; !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	for range 10 {
		if acts := d.tick(time.Hour, good(0), good(1000)); len(acts) != 0 {
			t.Fatalf("tick while waiting for approval: %v", kinds(acts))
		}
	}
	d.send(Pause{})
	if msg := d.refused(Promote{}); !strings.Contains(msg, "paused") {
		t.Fatalf("promote while paused: %s", msg)
	}
	d.send(Resume{})
	acts = d.send(Promote{})
	if got, want := kinds(acts), []string{"SetWeight:100", "Record:switch"}; !slices.Equal(got, want) {
		t.Fatalf("promote actions = %v, want %v", got, want)
	}
	if msg := d.refused(Promote{}); !strings.Contains(msg, "not waiting for approval") {
		t.Fatalf("promote after switch: %s", msg)
	}
}

func TestBlueGreenWithoutApprovalRefusesPromote(t *testing.T) {
	d, _ := startRollout(t, blueGreenSpec())
	d.send(Healthy{})
	if msg := d.refused(Promote{}); !strings.Contains(msg, "needs no approval") {
		t.Fatalf("promote: %s", msg)
	}
}

func TestBlueGreenPausedKeepsBlue(t *testing.T) {
	d, _ := startRollout(t, blueGreenSpec())
	driveBlueGreenTo(d, PhaseSwitched)
	d.send(Pause{})
	for range 10 {
		if acts := d.tick(time.Hour, good(1000), Sample{}); len(acts) != 0 {
			t.Fatalf("tick while paused: %v", kinds(acts))
		}
	}
	d.send(Resume{})
	if acts := d.tick(DefaultScaleDownDelay-time.Second, good(1000), Sample{}); len(acts) != 0 {
		t.Fatalf("tick within the delay after resuming: %v", kinds(acts))
	}
	d.tick(time.Second, good(1000), Sample{})
	d.wantPhase(PhaseSucceeded)
}

func TestBlueGreenAnalysis(t *testing.T) {
	r := blueGreenSpec()
	r.Analysis = &spec.Analysis{ErrorRate: 1}
	d, _ := startRollout(t, r)
	driveBlueGreenTo(d, PhaseSwitched)
	acts := d.tick(DefaultScaleDownDelay, good(5), Sample{})
	if got, want := kinds(acts), []string{"Record:hold"}; !slices.Equal(got, want) {
		t.Fatalf("inconclusive at the end of the delay: %v, want %v", got, want)
	}
	if !strings.Contains(d.s.LastDecision.Reason, "1.4.0 kept running: inconclusive: 5 requests < minRequests 20") {
		t.Fatalf("reason = %q", d.s.LastDecision.Reason)
	}
	acts = d.tick(DefaultInterval, good(500), Sample{})
	if got, want := kinds(acts), []string{"StopOld:1.4.0", "Record:succeed", "Done:succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}

	d, _ = startRollout(t, r)
	driveBlueGreenTo(d, PhaseSwitched)
	acts = d.tick(DefaultScaleDownDelay, failing(500), Sample{})
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("actions = %v, want %v", got, abortKinds())
	}
	if want := "analysis failed at step 1 of 1 (100% of traffic to 1.5.0): error rate 5% > 1% (canary 25/500, stable 0/0)"; d.s.AbortCause != want {
		t.Fatalf("cause = %q, want %q", d.s.AbortCause, want)
	}
}

// driveBlueGreenTo takes a fresh blue-green rollout to phase p, promoting
// when the plan asks for approval.
func driveBlueGreenTo(d *driver, p Phase) {
	d.t.Helper()
	if p == PhaseStarting {
		return
	}
	d.send(Healthy{})
	if p == PhaseSmoke {
		return
	}
	d.send(SmokeResult{OK: true})
	if d.s.Phase == PhaseWaitingApproval && p != PhaseWaitingApproval {
		d.send(Promote{})
	}
	d.wantPhase(p)
}
