package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const interval = 30 * time.Second

func TestCanaryHealthyReachesFullTraffic(t *testing.T) {
	d, acts := startRollout(t, canarySpec([]int{1, 5, 10, 25, 50, 100}))
	if got, want := kinds(acts), []string{"StartNew:1.5.0", "Record:start"}; !slices.Equal(got, want) {
		t.Fatalf("Start actions = %v, want %v", got, want)
	}
	d.wantPhase(PhaseStarting)

	// Ticks before the new version is healthy change nothing.
	if acts := d.tick(time.Minute, good(1000), good(1000)); len(acts) != 0 {
		t.Fatalf("tick while starting: %v", kinds(acts))
	}
	acts = d.send(Healthy{})
	if got, want := kinds(acts), []string{"SetWeight:1", "Record:advance"}; !slices.Equal(got, want) {
		t.Fatalf("Healthy actions = %v, want %v", got, want)
	}
	var seen []int
	seen = append(seen, weights(acts)...)
	for range 10 {
		// A tick before the interval is over decides nothing.
		if acts := d.tick(interval-time.Second, good(1000), good(1000)); len(acts) != 0 {
			t.Fatalf("tick before the interval at step %d: %v", d.s.Step, kinds(acts))
		}
		acts := d.tick(time.Second, good(1000), good(1000))
		seen = append(seen, weights(acts)...)
		if d.s.Phase == PhaseSucceeded {
			if got, want := kinds(acts), []string{"StopOld:1.4.0", "Record:succeed", "Done:succeeded"}; !slices.Equal(got, want) {
				t.Fatalf("final actions = %v, want %v", got, want)
			}
			break
		}
		if d.s.WindowStart != d.now || d.s.StepStarted != d.now {
			t.Fatalf("step %d: window %v, step start %v, want both %v", d.s.Step, d.s.WindowStart, d.s.StepStarted, d.now)
		}
	}
	d.wantPhase(PhaseSucceeded)
	if want := []int{1, 5, 10, 25, 50, 100}; !slices.Equal(seen, want) {
		t.Fatalf("weights = %v, want %v", seen, want)
	}
	if d.s.Weight != 100 || d.s.Step != 6 {
		t.Fatalf("weight %d step %d, want 100 and 6", d.s.Weight, d.s.Step)
	}
	if d.now != t0.Add(time.Minute+6*interval) {
		t.Fatalf("succeeded at %v, want six intervals after healthy", d.now)
	}
	// Once finished, ticks and health changes do nothing.
	for _, ev := range []Event{Tick{}, Healthy{}, Unhealthy{}} {
		if acts := d.send(ev); len(acts) != 0 {
			t.Fatalf("%T after success: %v", ev, kinds(acts))
		}
	}
	d.wantPhase(PhaseSucceeded)
}

func TestCanaryErrorsAbortAtFirstConclusiveAnalysis(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{1, 5, 10, 25, 50, 100}))
	d.send(Healthy{})
	// Below minRequests (50) even 5% errors only hold.
	acts := d.tick(interval, failing(40), good(4000))
	if got, want := kinds(acts), []string{"Record:hold"}; !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	acts = d.tick(interval, failing(100), good(9000))
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("actions = %v, want %v", got, abortKinds())
	}
	d.wantPhase(PhaseAborted)
	want := "analysis failed at step 1 of 6 (1% of traffic to 1.5.0): error rate 5% > 1% (canary 5/100, stable 0/9000)"
	if d.s.AbortCause != want {
		t.Fatalf("cause = %q, want %q", d.s.AbortCause, want)
	}
	rb := acts[2].(RollbackRelease)
	if rb.Reason != want {
		t.Fatalf("rollback reason = %q", rb.Reason)
	}
	if ld := d.s.LastDecision; ld == nil || ld.Canary == nil || ld.Canary.Errors != 5 || ld.Stable.Requests != 9000 {
		t.Fatalf("last decision does not carry the samples: %+v", ld)
	}
	if d.s.Weight != 0 || d.s.Step != 1 {
		t.Fatalf("weight %d step %d, want 0 and 1", d.s.Weight, d.s.Step)
	}
}

func TestCanaryWithoutDataHoldsAndNeverPromotes(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{5, 100}))
	d.send(Healthy{})
	window := d.s.WindowStart
	for i := range 50 {
		acts := d.tick(interval, Sample{}, good(5000))
		if got, want := kinds(acts), []string{"Record:hold"}; !slices.Equal(got, want) {
			t.Fatalf("interval %d: actions = %v, want %v", i, got, want)
		}
		if !strings.Contains(d.s.LastDecision.Reason, "inconclusive: 0 requests < minRequests 50") {
			t.Fatalf("reason = %q", d.s.LastDecision.Reason)
		}
		// Ticks within the next interval decide nothing.
		if acts := d.tick(interval/2, Sample{}, good(5000)); len(acts) != 0 {
			t.Fatalf("tick within a held interval: %v", kinds(acts))
		}
		d.now = d.now.Add(-interval / 2)
	}
	d.wantPhase(PhaseProgressing)
	if d.s.Step != 1 || d.s.Weight != 5 || d.s.WindowStart != window {
		t.Fatalf("step %d weight %d window %v: the step must hold with its window", d.s.Step, d.s.Weight, d.s.WindowStart)
	}
	// Requests gathered over the held window finally decide.
	acts := d.tick(interval, good(60), good(5000))
	if got := weights(acts); !slices.Equal(got, []int{100}) {
		t.Fatalf("weights = %v after enough requests", got)
	}
}

func TestCanaryApprovalWaitsForPromote(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{10, 50, 100}, 50))
	d.send(Healthy{})
	if msg := d.refused(Promote{}); !strings.Contains(msg, "not waiting for approval") {
		t.Fatalf("promote at step 1: %s", msg)
	}
	d.tick(interval, good(100), good(900)) // 10 → 50
	if d.s.Weight != 50 {
		t.Fatalf("weight %d, want 50", d.s.Weight)
	}
	acts := d.tick(interval, good(500), good(500))
	if got, want := kinds(acts), []string{"Record:wait-approval"}; !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	d.wantPhase(PhaseWaitingApproval)
	// The decision says approval is needed; the status says how, once.
	if r := d.s.LastDecision.Reason; !strings.Contains(r, "step 50% needs approval") || strings.Contains(r, "ferry rollout") {
		t.Fatalf("reason = %q", r)
	}
	if st := d.s.Status().String(); strings.Count(st, "`ferry rollout promote api`") != 1 {
		t.Fatalf("status names the command to approve %d times, want once:\n%s", strings.Count(st, "`ferry rollout promote api`"), st)
	}
	// Hours of passing and inconclusive analyses never go past 50%.
	for i := range 100 {
		sample := good(500)
		if i%2 == 1 {
			sample = Sample{}
		}
		if acts := d.tick(interval, sample, good(500)); len(acts) != 0 {
			t.Fatalf("tick %d while waiting: %v", i, kinds(acts))
		}
	}
	d.wantPhase(PhaseWaitingApproval)
	acts = d.send(Promote{})
	if got, want := kinds(acts), []string{"SetWeight:100", "Record:advance"}; !slices.Equal(got, want) {
		t.Fatalf("promote actions = %v, want %v", got, want)
	}
	if !strings.HasPrefix(d.s.LastDecision.Reason, "promoted by the operator at step 2 of 3") {
		t.Fatalf("reason = %q", d.s.LastDecision.Reason)
	}
	if msg := d.refused(Promote{}); !strings.Contains(msg, "not waiting for approval") {
		t.Fatalf("second promote: %s", msg)
	}
	d.tick(interval, good(500), Sample{})
	d.wantPhase(PhaseSucceeded)
}

func TestCanaryApprovalOfTheLastStep(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{50, 100}, 100))
	d.send(Healthy{})
	d.tick(interval, good(100), good(100))
	acts := d.tick(interval, good(100), Sample{})
	if got, want := kinds(acts), []string{"Record:wait-approval"}; !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	acts = d.send(Promote{})
	if got, want := kinds(acts), []string{"StopOld:1.4.0", "Record:succeed", "Done:succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("promote actions = %v, want %v", got, want)
	}
}

func TestCanaryWaitingForApprovalStillAborts(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{25, 100}, 25))
	d.send(Healthy{})
	d.tick(interval, good(100), good(300))
	d.wantPhase(PhaseWaitingApproval)
	// The window moved on when the analysis passed; the next failing one
	// aborts.
	if acts := d.tick(interval, good(100), good(300)); len(acts) != 0 {
		t.Fatalf("passing tick while waiting: %v", kinds(acts))
	}
	acts := d.tick(interval, failing(100), good(300))
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("actions = %v, want %v", got, abortKinds())
	}
	if !strings.Contains(d.s.AbortCause, "error rate 5% > 1%") {
		t.Fatalf("cause = %q", d.s.AbortCause)
	}
}

func TestCanaryPauseResume(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{10, 50, 100}))
	if msg := d.refused(Pause{}); !strings.Contains(msg, "gets no traffic yet") {
		t.Fatalf("pause while starting: %s", msg)
	}
	d.send(Healthy{})
	d.tick(interval, good(100), good(900)) // → 50%
	d.now = d.now.Add(10 * time.Second)
	acts := d.send(Pause{})
	if got, want := kinds(acts), []string{"Record:pause"}; !slices.Equal(got, want) {
		t.Fatalf("pause actions = %v, want %v", got, want)
	}
	if msg := d.refused(Pause{}); !strings.Contains(msg, "already paused") {
		t.Fatalf("second pause: %s", msg)
	}
	for i := range 20 {
		if acts := d.tick(interval, good(500), good(500)); len(acts) != 0 {
			t.Fatalf("tick %d while paused: %v", i, kinds(acts))
		}
	}
	if d.s.Weight != 50 || !d.s.Paused {
		t.Fatalf("weight %d paused %v: a paused rollout holds", d.s.Weight, d.s.Paused)
	}
	if st := d.s.Status(); !strings.Contains(st.String(), "progressing, paused") {
		t.Fatalf("status:\n%s", st)
	}
	acts = d.send(Resume{})
	if got, want := kinds(acts), []string{"Record:resume"}; !slices.Equal(got, want) {
		t.Fatalf("resume actions = %v, want %v", got, want)
	}
	if d.s.NextAnalysis != d.now.Add(interval) {
		t.Fatalf("next analysis %v, want a full interval after resuming", d.s.NextAnalysis)
	}
	if msg := d.refused(Resume{}); !strings.Contains(msg, "not paused") {
		t.Fatalf("second resume: %s", msg)
	}
	if acts := d.tick(interval-time.Second, good(500), good(500)); len(acts) != 0 {
		t.Fatalf("tick within the interval after resuming: %v", kinds(acts))
	}
	if acts := d.tick(time.Second, good(500), good(500)); !slices.Equal(weights(acts), []int{100}) {
		t.Fatalf("after resume: %v", kinds(acts))
	}
}

func TestCanaryPausedStillAbortsOnBreach(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{10, 100}))
	d.send(Healthy{})
	d.send(Pause{})
	acts := d.tick(interval, failing(1000), good(9000))
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("actions = %v, want %v", got, abortKinds())
	}
	if d.s.Paused {
		t.Fatal("an aborted rollout is not paused")
	}
}

func TestCanaryUnhealthyAborts(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{10, 100}))
	d.send(Healthy{})
	d.tick(interval/2, good(10), good(90))
	acts := d.send(Unhealthy{Reason: "GET /healthz: 503 three times"})
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("actions = %v, want %v", got, abortKinds())
	}
	if want := "1.5.0 is unhealthy: GET /healthz: 503 three times"; d.s.AbortCause != want {
		t.Fatalf("cause = %q, want %q", d.s.AbortCause, want)
	}
	// A repeated Healthy in progress changes nothing either.
	d2, _ := startRollout(t, canarySpec([]int{10, 100}))
	d2.send(Healthy{})
	if acts := d2.send(Healthy{}); len(acts) != 0 {
		t.Fatalf("second Healthy: %v", kinds(acts))
	}
}

func TestCanaryWithoutAnalysisSpecUsesDefaults(t *testing.T) {
	d, _ := startRollout(t, nil)
	if d.s.Plan.Strategy != "blue-green" {
		t.Fatalf("strategy without a spec = %s", d.s.Plan.Strategy)
	}
	r := canarySpec(nil)
	r.Analysis = nil
	r.Interval = 0
	d, _ = startRollout(t, r)
	if want := []int{10, 25, 50, 100}; !slices.Equal(d.s.Plan.Steps, want) || d.s.Plan.Interval != DefaultInterval {
		t.Fatalf("plan = %+v", d.s.Plan)
	}
	d.send(Healthy{})
	if acts := d.tick(DefaultInterval, good(19), good(100)); !strings.Contains(d.s.LastDecision.Reason, "minRequests 20") {
		t.Fatalf("default minRequests: %v %q", kinds(acts), d.s.LastDecision.Reason)
	}
	bad := good(100)
	bad.Errors = 10
	d.tick(DefaultInterval, bad, good(1000))
	d.wantPhase(PhaseAborted)
	if !strings.Contains(d.s.AbortCause, "error rate 10% > stable's 0% + 1%") {
		t.Fatalf("cause = %q", d.s.AbortCause)
	}
}
