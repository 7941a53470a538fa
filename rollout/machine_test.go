package rollout

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/bundle/spec"
)

// reach takes a fresh rollout to one of its phases; it names the phase as
// the tests see it.
type reach struct {
	name  string
	spec  func() *spec.Rollout
	drive func(d *driver)
	phase Phase
}

func phases() []reach {
	canary := func() *spec.Rollout { return canarySpec([]int{10, 50, 100}, 50) }
	bg := func() *spec.Rollout { return blueGreenSpec(100) }
	return []reach{
		{"canary starting", canary, func(d *driver) {}, PhaseStarting},
		{"canary progressing", canary, func(d *driver) { d.send(Healthy{}) }, PhaseProgressing},
		{"canary progressing held", canary, func(d *driver) { d.send(Healthy{}); d.tick(interval, good(1), good(1)) }, PhaseProgressing},
		{"canary paused", canary, func(d *driver) { d.send(Healthy{}); d.send(Pause{}) }, PhaseProgressing},
		{"canary waiting-approval", canary, func(d *driver) {
			d.send(Healthy{})
			d.tick(interval, good(100), good(900))
			d.tick(interval, good(500), good(500))
		}, PhaseWaitingApproval},
		{"blue-green starting", bg, func(d *driver) {}, PhaseStarting},
		{"blue-green smoke", bg, func(d *driver) { driveBlueGreenTo(d, PhaseSmoke) }, PhaseSmoke},
		{"blue-green waiting-approval", bg, func(d *driver) { driveBlueGreenTo(d, PhaseWaitingApproval) }, PhaseWaitingApproval},
		{"blue-green switched", bg, func(d *driver) { driveBlueGreenTo(d, PhaseSwitched) }, PhaseSwitched},
		{"blue-green switched paused", bg, func(d *driver) { driveBlueGreenTo(d, PhaseSwitched); d.send(Pause{}) }, PhaseSwitched},
	}
}

// TestAbortCauseSaidOnce: an operator's abort is labelled as the
// operator's once, with or without a reason; one ferry serve makes itself
// (Cause) is not labelled as the operator's at all.
func TestAbortCauseSaidOnce(t *testing.T) {
	for _, c := range []struct {
		ev   Abort
		want string
	}{
		{Abort{}, "aborted by the operator"},
		{Abort{Reason: "customers complain"}, "aborted by the operator: customers complain"},
		{Abort{Cause: "version 1.5.0 did not become healthy within 30s"}, "version 1.5.0 did not become healthy within 30s"},
	} {
		d, _ := startRollout(t, canarySpec([]int{10, 100}))
		d.send(c.ev)
		if d.s.AbortCause != c.want {
			t.Errorf("%+v: cause %q, want %q", c.ev, d.s.AbortCause, c.want)
		}
		if strings.Count(d.s.LastDecision.Reason, "aborted by the operator") > 1 {
			t.Errorf("%+v: decision %q says it twice", c.ev, d.s.LastDecision.Reason)
		}
	}
}

func TestAbortAtAnyPhase(t *testing.T) {
	for _, r := range phases() {
		t.Run(r.name, func(t *testing.T) {
			d, _ := startRollout(t, r.spec())
			r.drive(d)
			d.wantPhase(r.phase)
			step := d.s.Step
			d.now = d.now.Add(time.Second)
			acts := d.send(Abort{Reason: "operator said so"})
			if got := kinds(acts); !slices.Equal(got, abortKinds()) {
				t.Fatalf("actions = %v, want %v", got, abortKinds())
			}
			d.wantPhase(PhaseAborted)
			if d.s.Weight != 0 || d.s.Paused || d.s.Step != step {
				t.Fatalf("weight %d paused %v step %d (was %d)", d.s.Weight, d.s.Paused, d.s.Step, step)
			}
			if d.s.AbortCause != "aborted by the operator: operator said so" {
				t.Fatalf("cause = %q", d.s.AbortCause)
			}
			if ld := d.s.LastDecision; ld.Action != DecideAbort || ld.Time != d.now {
				t.Fatalf("last decision %+v", ld)
			}
			for _, ev := range []Event{Abort{}, Promote{}, Pause{}, Resume{}, SmokeResult{OK: true}} {
				if msg := d.refused(ev); !strings.Contains(msg, "was aborted (aborted by the operator: operator said so)") {
					t.Fatalf("%T after abort: %s", ev, msg)
				}
			}
		})
	}
}

func TestEventsRefusedInWrongPhases(t *testing.T) {
	byName := make(map[string]reach)
	for _, r := range phases() {
		byName[r.name] = r
	}
	tests := []struct {
		at   string
		ev   Event
		want string
	}{
		{"canary starting", Promote{}, "promote api: refused while starting: the rollout is starting and is not waiting for approval (approval: [50])"},
		{"canary starting", Pause{}, "gets no traffic yet"},
		{"canary starting", Resume{}, "the rollout is not paused"},
		{"canary starting", SmokeResult{}, "a canary rollout runs no smoke tests"},
		{"canary progressing", Promote{}, "the rollout is at step 1 of 3 (10% of traffic to 1.5.0) and is not waiting for approval; promote applies at an approval step (approval: [50]) once its analysis has passed"},
		{"canary paused", Pause{}, "already paused; `ferry rollout resume api` goes on"},
		{"canary paused", Promote{}, "not waiting for approval"},
		{"canary waiting-approval", Resume{}, "not paused"},
		{"canary waiting-approval", nil, "nil event api: refused while waiting-approval: no event given"},
		{"blue-green starting", Pause{}, "1.5.0 gets no traffic yet"},
		{"blue-green smoke", Promote{}, "not waiting for approval yet: that comes once 1.5.0 is healthy and its smoke tests pass"},
		{"blue-green smoke", Pause{}, "gets no traffic yet"},
		{"blue-green waiting-approval", SmokeResult{OK: true}, "no smoke tests are running"},
		{"blue-green switched", Promote{}, "refused while switched"},
		{"blue-green switched", SmokeResult{OK: false}, "no smoke tests are running"},
		{"blue-green switched paused", Pause{}, "already paused"},
	}
	for _, tt := range tests {
		t.Run(tt.at+" "+eventName(tt.ev), func(t *testing.T) {
			r := byName[tt.at]
			d, _ := startRollout(t, r.spec())
			r.drive(d)
			if msg := d.refused(tt.ev); !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q, want it to contain %q", msg, tt.want)
			}
		})
	}

	d, _ := startRollout(t, canarySpec([]int{10, 100}))
	d.send(Healthy{})
	d.tick(interval, good(100), good(100))
	d.tick(interval, good(100), Sample{})
	d.wantPhase(PhaseSucceeded)
	if msg := d.refused(Abort{}); !strings.Contains(msg, "to go back, use `ferry rollback`") {
		t.Fatalf("abort after success: %s", msg)
	}
	if msg := d.refused(Promote{}); !strings.Contains(msg, "has finished: 1.5.0 takes all traffic and 1.4.0 is stopped") {
		t.Fatalf("promote after success: %s", msg)
	}
}

func TestStateJSONRoundTripResumesIdentically(t *testing.T) {
	for _, r := range phases() {
		t.Run(r.name, func(t *testing.T) {
			d, _ := startRollout(t, r.spec())
			r.drive(d)
			b, err := json.Marshal(d.s)
			if err != nil {
				t.Fatal(err)
			}
			var back State
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, d.s) {
				t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, d.s)
			}
			// The same events at the same times give the same states and
			// actions from the original and from the stored copy.
			events := []Event{Tick{Canary: good(10), Stable: good(10)}, Healthy{}, Tick{Canary: good(500), Stable: good(500)},
				SmokeResult{OK: true}, Promote{}, Resume{}, Tick{Canary: good(500), Stable: good(500)}, Tick{Canary: good(500), Stable: good(5)}, Promote{}}
			a, c := d.s, back
			now := d.now
			for i, ev := range events {
				now = now.Add(interval)
				na, actsA, errA := Next(a, ev, now)
				nc, actsC, errC := Next(c, ev, now)
				if !reflect.DeepEqual(na, nc) || !reflect.DeepEqual(actsA, actsC) || (errA == nil) != (errC == nil) {
					t.Fatalf("event %d (%T) differs after the round trip:\n%+v %v %v\n%+v %v %v", i, ev, na, actsA, errA, nc, actsC, errC)
				}
				a, c = na, nc
			}
		})
	}
}

func TestRestore(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{10, 50, 100}))
	d.send(Healthy{})
	d.tick(interval, good(100), good(900))
	d.tick(interval/3, good(40), good(60))
	later := d.now.Add(time.Hour)
	s, acts := Restore(d.s, later)
	if got, want := kinds(acts), []string{"StartNew:1.5.0", "SetWeight:50"}; !slices.Equal(got, want) {
		t.Fatalf("actions = %v, want %v", got, want)
	}
	if s.WindowStart != later || s.NextAnalysis != later.Add(interval) || s.Step != 2 || s.Phase != PhaseProgressing {
		t.Fatalf("restored state %+v", s)
	}
	if !reflect.DeepEqual(s.LastDecision, d.s.LastDecision) {
		t.Fatal("Restore recorded a decision")
	}

	d, _ = startRollout(t, blueGreenSpec())
	driveBlueGreenTo(d, PhaseSmoke)
	_, acts = Restore(d.s, later)
	if got, want := kinds(acts), []string{"StartNew:1.5.0", "SetWeight:0", "RunSmoke:1.5.0"}; !slices.Equal(got, want) {
		t.Fatalf("smoke: actions = %v, want %v", got, want)
	}
	d.send(SmokeResult{OK: true})
	s, _ = Restore(d.s, later)
	if s.NextAnalysis != later.Add(DefaultScaleDownDelay) {
		t.Fatalf("switched: scale-down at %v, want a full delay after restoring", s.NextAnalysis)
	}
	d.send(Abort{})
	_, acts = Restore(d.s, later)
	if got, want := kinds(acts), []string{"SetWeight:0", "StopNew:1.5.0", "RollbackRelease:1.5.0->1.4.0"}; !slices.Equal(got, want) {
		t.Fatalf("aborted: actions = %v, want %v", got, want)
	}

	d, _ = startRollout(t, blueGreenSpec())
	driveBlueGreenTo(d, PhaseSwitched)
	d.tick(DefaultScaleDownDelay, Sample{}, Sample{})
	_, acts = Restore(d.s, later)
	if got, want := kinds(acts), []string{"SetWeight:100", "StopOld:1.4.0"}; !slices.Equal(got, want) {
		t.Fatalf("succeeded: actions = %v, want %v", got, want)
	}
}

func TestStartRefusesWhatCannotBeRolledOut(t *testing.T) {
	svc := func(r *spec.Rollout) spec.Service { return spec.Service{Name: "api", Rollout: r} }
	tests := []struct {
		name         string
		spec         spec.Service
		stable, next string
		want         string
	}{
		{"no stable", svc(nil), "", "1.5.0", "no stable version"},
		{"no new", svc(nil), "1.4.0", "", "no new version"},
		{"same version", svc(nil), "1.5.0", "1.5.0", "stable and new are both 1.5.0"},
		{"unknown strategy", svc(&spec.Rollout{Strategy: "linear"}), "1.4.0", "1.5.0", `"linear" is not a strategy`},
		{"step out of range", svc(&spec.Rollout{Strategy: "canary", Steps: []int{0, 100}}), "1.4.0", "1.5.0", "steps[0] is 0, not a percentage"},
		{"steps going down", svc(&spec.Rollout{Strategy: "canary", Steps: []int{50, 10, 100}}), "1.4.0", "1.5.0", "steps[1] is 10 after 50"},
		{"last step not 100", svc(&spec.Rollout{Strategy: "canary", Steps: []int{10, 50}}), "1.4.0", "1.5.0", "the last step is 50"},
		{"blue-green with steps", svc(&spec.Rollout{Strategy: "blue-green", Steps: []int{100}}), "1.4.0", "1.5.0", "switches all traffic at once"},
		{"approval not a step", svc(&spec.Rollout{Strategy: "canary", Steps: []int{10, 100}, Approval: []int{50}}), "1.4.0", "1.5.0", "approval[0] is 50, not one of the steps [10 100]"},
		{"blue-green approval not 100", svc(&spec.Rollout{Strategy: "blue-green", Approval: []int{50}}), "1.4.0", "1.5.0", "not one of the steps [100]"},
		{"approval twice", svc(&spec.Rollout{Strategy: "canary", Steps: []int{10, 100}, Approval: []int{10, 10}}), "1.4.0", "1.5.0", "lists 10 twice"},
		{"negative minRequests", svc(&spec.Rollout{Strategy: "canary", Analysis: &spec.Analysis{MinRequests: -1}}), "1.4.0", "1.5.0", "minRequests -1 is negative"},
		{"negative interval", svc(&spec.Rollout{Strategy: "canary", Interval: spec.Duration(-time.Second)}), "1.4.0", "1.5.0", "interval -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, acts, err := Start(tt.spec, tt.stable, tt.next, t0)
			if !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), tt.want) || acts != nil {
				t.Fatalf("err = %v, acts %v; want ErrInvalidPlan containing %q", err, acts, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "rollout of api: ") {
				t.Fatalf("err = %q does not name the service", err)
			}
		})
	}
}

func TestNewPlanDefaultsAndCopies(t *testing.T) {
	p, err := NewPlan(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{Strategy: "blue-green", Steps: []int{100}, Interval: 30 * time.Second, ScaleDownDelay: 30 * time.Second}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("NewPlan(nil) = %+v, want %+v", p, want)
	}
	spec := canarySpec([]int{5, 100}, 5)
	p, err = NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	// The plan keeps its own copy: a later change of the spec does not
	// move a running rollout.
	spec.Steps[0], spec.Approval[0], spec.Analysis.MinRequests = 7, 7, 7
	if p.Steps[0] != 5 || p.Approval[0] != 5 || p.Analysis.MinRequests != 50 {
		t.Fatalf("plan shares memory with the spec: %+v", p)
	}
}

func TestStatus(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{1, 5, 10, 25, 50, 100}, 50))
	st := d.s.Status()
	if st.Step != 0 || st.Steps != 6 || st.StableWeight != 100 || st.NewWeight != 0 || st.Waiting != "1.5.0 to become healthy" {
		t.Fatalf("status at start %+v", st)
	}
	d.send(Healthy{})
	d.tick(interval, good(100), good(9900))
	st = d.s.Status()
	want := "api: canary from 1.4.0 to 1.5.0, progressing\n" +
		"step 2 of 6: 1.4.0 95%, 1.5.0 5%\n" +
		"waiting for: analysis at 2026-03-01T12:01:00Z\n" +
		"last decision: 2026-03-01T12:00:30Z advance: analysis passed at step 1 of 6 (1% of traffic to 1.5.0): " +
		"within limits: error rate 0% (stable 0%), p95 40ms (stable 40ms), cpu 5%, memory 10% (canary 0/100, stable 0/9900); " +
		"5% of traffic to 1.5.0 (step 2 of 6), analysed at 2026-03-01T12:01:00Z\n"
	if got := st.String(); got != want {
		t.Fatalf("status:\n%s\nwant:\n%s", got, want)
	}
	b, err := json.Marshal(st)
	if err != nil || !strings.Contains(string(b), `"stableWeight":95`) {
		t.Fatalf("json %s, %v", b, err)
	}
	d.send(Abort{Reason: "testing"})
	st = d.s.Status()
	if st.Waiting != "" || st.AbortCause != "aborted by the operator: testing" || st.NewWeight != 0 || st.Step != 2 {
		t.Fatalf("status after abort %+v", st)
	}
	if !strings.Contains(st.String(), "abort cause: aborted by the operator: testing\n") {
		t.Fatalf("status:\n%s", st)
	}
}
