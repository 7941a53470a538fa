package rollout

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"ferry/bundle/spec"
)

// FuzzRollout feeds random event sequences to random plans and checks the
// machine's invariants after every event: weights stay within 0..100,
// traffic never goes past an approval step without Promote, a finished
// rollout stays finished, an inconclusive analysis never moves a rollout,
// refusals change nothing, and every state survives a JSON round trip.
func FuzzRollout(f *testing.F) {
	f.Add([]byte{0x01, 0x10, 1, 2, 15, 0, 3, 15, 200, 0, 150, 0, 3, 15, 200, 0, 150, 0, 5, 3, 15, 200, 0, 150, 0})
	f.Add([]byte{0x00, 0x00, 1, 4, 1, 3, 20, 0, 0, 0, 0})
	f.Add([]byte{0x07, 0x3f, 1, 7, 5, 8, 3, 15, 200, 10, 150, 0, 6, 2, 9})
	f.Add([]byte{0x03, 0x00, 1, 4, 1, 6, 3, 30, 250, 0, 0, 0})
	f.Add([]byte{0x05, 0x00, 0, 3, 1, 15, 80, 0, 0, 0}) // fast-fail: 5 errors in 15 requests
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		r := fuzzSpec(data[0], data[1])
		data = data[2:]
		now := t0
		s, acts, err := Start(spec.Service{Name: "api", Rollout: r}, "1.4.0", "1.5.0", now)
		if err != nil {
			t.Fatalf("Start(%+v): %v", r, err)
		}
		checkActions(t, State{}, s, acts)
		promoted := make(map[int]bool) // approval steps an operator promoted
		for len(data) > 0 {
			var ev Event
			ev, data, now = fuzzEvent(data, now)
			prev := s
			next, acts, err := Next(s, ev, now)
			if err != nil {
				if !errors.Is(err, ErrRefused) || acts != nil || !reflect.DeepEqual(next, prev) {
					t.Fatalf("%T: error %v with actions %v and a changed state", ev, err, acts)
				}
				continue
			}
			s = next
			if _, ok := ev.(Promote); ok {
				promoted[prev.Plan.Steps[max(prev.Step-1, 0)]] = true
			}
			checkActions(t, prev, s, acts)
			checkApproval(t, s, promoted)
			if prev.Phase.Finished() && !reflect.DeepEqual(s, prev) {
				t.Fatalf("%T changed a finished rollout:\n%+v\n%+v", ev, prev, s)
			}
			if tick, ok := ev.(Tick); ok {
				checkTick(t, prev, s, tick)
			}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var back State
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, s) {
				t.Fatalf("JSON round trip: %v\n%+v\n%+v", err, back, s)
			}
			if st := s.Status(); st.StableWeight+st.NewWeight != 100 || st.Step < 0 || st.Step > st.Steps {
				t.Fatalf("status %+v", st)
			}
		}
	})
}

// fuzzSpec builds one of the plans the fuzzer explores from two bytes.
func fuzzSpec(cfg, approvals byte) *spec.Rollout {
	r := &spec.Rollout{Interval: spec.Duration(30 * time.Second)}
	if cfg&4 != 0 {
		r.Analysis = &spec.Analysis{ErrorRate: 1, LatencyP95: spec.Duration(500 * time.Millisecond), MinRequests: 20}
	}
	if cfg&1 == 0 {
		r.Strategy = spec.StrategyBlueGreen
		if cfg&2 != 0 {
			r.Approval = []int{100}
		}
		return r
	}
	r.Strategy = spec.StrategyCanary
	r.Steps = []int{1, 5, 10, 25, 50, 100}
	for i, step := range r.Steps {
		if approvals&(1<<i) != 0 {
			r.Approval = append(r.Approval, step)
		}
	}
	return r
}

// fuzzEvent decodes one event and moves the clock for ticks.
func fuzzEvent(data []byte, now time.Time) (Event, []byte, time.Time) {
	op := data[0]
	data = data[1:]
	arg := func() int64 {
		if len(data) == 0 {
			return 0
		}
		v := int64(data[0])
		data = data[1:]
		return v
	}
	switch op % 9 {
	case 0:
		return Healthy{}, data, now
	case 1:
		return Unhealthy{Reason: "fuzz"}, data, now
	case 2:
		return SmokeResult{OK: op&0x80 == 0, Reason: "fuzz"}, data, now
	case 3:
		now = now.Add(time.Duration(arg()) * 2 * time.Second)
		canary := Sample{Requests: arg(), Errors: arg() / 16, P95: time.Duration(arg()) * 4 * time.Millisecond}
		stable := Sample{Requests: arg(), Errors: arg() / 16, P95: 100 * time.Millisecond}
		return Tick{Canary: canary, Stable: stable}, data, now
	case 4:
		return Promote{}, data, now
	case 5:
		return Pause{}, data, now
	case 6:
		return Resume{}, data, now
	case 7:
		return Abort{Reason: "fuzz"}, data, now
	}
	return nil, data, now
}

// checkActions checks one transition's actions against the states around
// it.
func checkActions(t *testing.T, prev, s State, acts []Action) {
	t.Helper()
	if s.Weight < 0 || s.Weight > 100 {
		t.Fatalf("weight %d", s.Weight)
	}
	var lastWeight = -1
	var records, dones int
	for _, a := range acts {
		switch a := a.(type) {
		case SetWeight:
			if a.CanaryPercent < 0 || a.CanaryPercent > 100 {
				t.Fatalf("SetWeight %d", a.CanaryPercent)
			}
			lastWeight = a.CanaryPercent
		case Record:
			records++
			if s.LastDecision == nil || !reflect.DeepEqual(a.Decision, *s.LastDecision) {
				t.Fatalf("recorded %+v, last decision %+v", a.Decision, s.LastDecision)
			}
		case Done:
			dones++
			if a.Phase != s.Phase {
				t.Fatalf("Done %s in phase %s", a.Phase, s.Phase)
			}
		}
	}
	if lastWeight >= 0 && lastWeight != s.Weight {
		t.Fatalf("SetWeight %d but state weight %d", lastWeight, s.Weight)
	}
	if lastWeight < 0 && s.Weight != prev.Weight && prev.Phase != "" {
		t.Fatalf("weight %d → %d without SetWeight", prev.Weight, s.Weight)
	}
	if records > 1 {
		t.Fatalf("%d decisions in one transition", records)
	}
	if changed := s.Phase != prev.Phase || s.Step != prev.Step || s.Paused != prev.Paused; changed && records != 1 {
		t.Fatalf("%s step %d → %s step %d without a decision", prev.Phase, prev.Step, s.Phase, s.Step)
	}
	if finished := s.Phase.Finished() && !prev.Phase.Finished(); (dones == 1) != finished || dones > 1 {
		t.Fatalf("%d Done actions going from %s to %s", dones, prev.Phase, s.Phase)
	}
}

// checkApproval checks that traffic is past no approval step an operator
// did not promote.
func checkApproval(t *testing.T, s State, promoted map[int]bool) {
	t.Helper()
	for _, a := range s.Plan.Approval {
		if promoted[a] {
			continue
		}
		past := s.Weight > a || (s.Phase == PhaseSucceeded && a == 100)
		if !s.Plan.canary() {
			past = s.Weight == 100 || s.Phase == PhaseSucceeded
		}
		if past {
			t.Fatalf("phase %s at weight %d: past approval step %d without promote", s.Phase, s.Weight, a)
		}
	}
}

// checkTick checks that an analysis decided the tick's outcome: nothing
// moves forward without a pass, and nothing aborts without a fail of the
// analysis or of the fast-fail check.
func checkTick(t *testing.T, prev, s State, tick Tick) {
	t.Helper()
	if !prev.analyses() {
		return
	}
	v := Analyze(prev.Plan.Analysis, tick.Canary, tick.Stable)
	forward := s.Step > prev.Step || (s.Phase != prev.Phase && s.Phase != PhaseAborted)
	if forward && v.Result != Pass {
		t.Fatalf("%s at step %d moved to %s step %d on a %s analysis: %s", prev.Phase, prev.Step, s.Phase, s.Step, v.Result, v.Reason)
	}
	fast := FastFail(prev.Plan.Analysis, tick.Canary)
	if s.Phase == PhaseAborted && v.Result != Fail && fast.Result != Fail {
		t.Fatalf("aborted on a %s analysis and no critical breach: %s", v.Result, v.Reason)
	}
	if v.Result == Inconclusive && fast.Result != Fail && (s.Phase != prev.Phase || s.Step != prev.Step || s.Weight != prev.Weight || !s.WindowStart.Equal(prev.WindowStart)) {
		t.Fatalf("an inconclusive analysis moved the rollout: %+v → %+v", prev, s)
	}
	if prev.Phase == PhaseProgressing && prev.Paused && !slices.Contains([]Phase{PhaseProgressing, PhaseAborted}, s.Phase) {
		t.Fatalf("a paused rollout moved from %s to %s", prev.Phase, s.Phase)
	}
}
