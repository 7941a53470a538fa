package rollout

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"ferry/bundle/spec"
)

// t0 is the injected clock's start; tests move time by hand.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// driver runs one rollout with an injected clock and fails the test on any
// refused event.
type driver struct {
	t   *testing.T
	s   State
	now time.Time
}

func startRollout(t *testing.T, r *spec.Rollout) (*driver, []Action) {
	t.Helper()
	s, acts, err := Start(spec.Service{Name: "api", Rollout: r}, "1.4.0", "1.5.0", t0)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return &driver{t: t, s: s, now: t0}, acts
}

// send delivers ev at the current time and returns the actions.
func (d *driver) send(ev Event) []Action {
	d.t.Helper()
	s, acts, err := Next(d.s, ev, d.now)
	if err != nil {
		d.t.Fatalf("%T at phase %s: %v", ev, d.s.Phase, err)
	}
	d.s = s
	return acts
}

// refused delivers ev, expects a refusal and an unchanged state, and
// returns the error's text.
func (d *driver) refused(ev Event) string {
	d.t.Helper()
	s, acts, err := Next(d.s, ev, d.now)
	var re *RefusedError
	if !errors.Is(err, ErrRefused) || !errors.As(err, &re) {
		d.t.Fatalf("%T at phase %s: err = %v, want a *RefusedError", ev, d.s.Phase, err)
	}
	if len(acts) != 0 {
		d.t.Fatalf("%T refused but returned actions %v", ev, acts)
	}
	if !stateEqual(s, d.s) {
		d.t.Fatalf("%T refused but changed the state:\n got %+v\nwant %+v", ev, s, d.s)
	}
	return err.Error()
}

// tick moves the clock by dt and ticks with the given samples.
func (d *driver) tick(dt time.Duration, canary, stable Sample) []Action {
	d.t.Helper()
	d.now = d.now.Add(dt)
	return d.send(Tick{Canary: canary, Stable: stable})
}

func (d *driver) wantPhase(p Phase) {
	d.t.Helper()
	if d.s.Phase != p {
		d.t.Fatalf("phase = %s, want %s (last decision %+v)", d.s.Phase, p, d.s.LastDecision)
	}
}

// good is a healthy sample of n requests.
func good(n int64) Sample {
	return Sample{Requests: n, Errors: 0, P95: 40 * time.Millisecond, CPU: 0.05, Memory: 0.10}
}

// failing is a sample of n requests with 5% errors.
func failing(n int64) Sample {
	s := good(n)
	s.Errors = n / 20
	return s
}

func canarySpec(steps []int, approval ...int) *spec.Rollout {
	return &spec.Rollout{
		Strategy: spec.StrategyCanary,
		Steps:    steps,
		Interval: spec.Duration(30 * time.Second),
		Analysis: &spec.Analysis{ErrorRate: 1, LatencyP95: spec.Duration(500 * time.Millisecond), CPU: 80, Memory: 85, MinRequests: 50},
		Approval: approval,
	}
}

func blueGreenSpec(approval ...int) *spec.Rollout {
	return &spec.Rollout{Strategy: spec.StrategyBlueGreen, Approval: approval}
}

// weights lists the SetWeight percentages among acts.
func weights(acts []Action) []int {
	var w []int
	for _, a := range acts {
		if sw, ok := a.(SetWeight); ok {
			w = append(w, sw.CanaryPercent)
		}
	}
	return w
}

// kinds lists the actions' types, with the decision of a Record, for
// comparing sequences.
func kinds(acts []Action) []string {
	var k []string
	for _, a := range acts {
		switch a := a.(type) {
		case Record:
			k = append(k, "Record:"+string(a.Decision.Action))
		case SetWeight:
			k = append(k, "SetWeight:"+strconv.Itoa(a.CanaryPercent))
		case StartNew:
			k = append(k, "StartNew:"+a.Version)
		case StopNew:
			k = append(k, "StopNew:"+a.Version)
		case StopOld:
			k = append(k, "StopOld:"+a.Version)
		case RunSmoke:
			k = append(k, "RunSmoke:"+a.Version)
		case RollbackRelease:
			k = append(k, "RollbackRelease:"+a.From+"->"+a.To)
		case Done:
			k = append(k, "Done:"+string(a.Phase))
		default:
			k = append(k, "?")
		}
	}
	return k
}

// abortKinds is the action sequence of every abort.
func abortKinds() []string {
	return []string{"SetWeight:0", "StopNew:1.5.0", "RollbackRelease:1.5.0->1.4.0", "Record:abort", "Done:aborted"}
}

// stateEqual compares states the way a stored copy must compare.
func stateEqual(a, b State) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return false
	}
	return string(ja) == string(jb)
}
