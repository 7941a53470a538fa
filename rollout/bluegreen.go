package rollout

import (
	"fmt"
	"time"
)

// nextBlueGreen handles the events whose meaning is blue-green's own:
// healthy green gets its smoke tests, passing smoke tests switch all
// traffic (or wait for approval first), and the end of the scale-down delay
// stops blue.
func nextBlueGreen(s State, ev Event, now time.Time) (State, []Action, error) {
	switch e := ev.(type) {
	case Healthy:
		if s.Phase != PhaseStarting {
			return s, nil, nil
		}
		s.Phase = PhaseSmoke
		s.StepStarted = now
		s, acts := decide(s, []Action{RunSmoke{Version: s.New}}, Decision{
			Time:   now,
			Action: DecideSmoke,
			Reason: fmt.Sprintf("%s is healthy; running smoke tests against it directly", s.New),
		})
		return s, acts, nil
	case SmokeResult:
		if s.Phase != PhaseSmoke {
			return s, nil, refuse(s, ev, "no smoke tests are running: they run once %s is healthy, before any traffic goes to it", s.New)
		}
		if !e.OK {
			s, acts := abort(s, now, fmt.Sprintf("smoke tests failed on %s: %s", s.New, orUnknown(e.Reason)), nil)
			return s, acts, nil
		}
		why := "smoke tests passed on " + s.New
		if e.Reason != "" {
			why += ": " + e.Reason
		}
		if s.Plan.approves(100) {
			s.Phase = PhaseWaitingApproval
			s.StepStarted = now
			s, acts := decide(s, nil, Decision{
				Time:   now,
				Action: DecideWait,
				Reason: why + "; switching all traffic needs approval",
			})
			return s, acts, nil
		}
		s, acts := switchAll(s, now, why)
		return s, acts, nil
	case Promote:
		switch {
		case s.Phase != PhaseWaitingApproval && len(s.Plan.Approval) == 0:
			return s, nil, refuse(s, ev, "this rollout needs no approval: it switches by itself once %s is healthy and its smoke tests pass", s.New)
		case s.Phase != PhaseWaitingApproval:
			return s, nil, refuse(s, ev, "the rollout is %s and is not waiting for approval yet: that comes once %s is healthy and its smoke tests pass", s.Phase, s.New)
		case s.Paused:
			return s, nil, refuse(s, ev, "the rollout is paused; `ferry rollout resume %s` first", s.Service)
		}
		s, acts := switchAll(s, now, "promoted by the operator")
		return s, acts, nil
	case Tick:
		s, acts := blueGreenTick(s, e, now)
		return s, acts, nil
	}
	return s, nil, refuse(s, ev, "not an event of a blue-green rollout")
}

// switchAll sends all traffic to green at once and starts the scale-down
// delay, during which blue keeps running.
func switchAll(s State, now time.Time, why string) (State, []Action) {
	s.Phase = PhaseSwitched
	s.Step = 1
	s.Weight = 100
	s.StepStarted = now
	s.WindowStart = now
	s.NextAnalysis = now.Add(s.Plan.ScaleDownDelay)
	return decide(s, []Action{SetWeight{CanaryPercent: 100}}, Decision{
		Time:   now,
		Action: DecideSwitch,
		Reason: fmt.Sprintf("%s; all traffic to %s; %s kept running until %s so that a rollback is instant",
			why, s.New, s.Stable, s.NextAnalysis.UTC().Format(time.RFC3339)),
	})
}

// blueGreenTick ends the scale-down delay: blue is stopped, after a
// passing analysis when the plan has one.
func blueGreenTick(s State, t Tick, now time.Time) (State, []Action) {
	if s.Phase != PhaseSwitched {
		return s, nil
	}
	if s, acts, ok := fastFail(s, t, now); ok {
		return s, acts
	}
	switch {
	case s.Paused:
		return watch(s, t, now)
	case now.Before(s.NextAnalysis):
		return s, nil
	case s.Plan.Analysis == nil:
		return succeed(s, nil, Decision{Time: now, Reason: fmt.Sprintf("scale-down delay of %v over", s.Plan.ScaleDownDelay)})
	}
	v := Analyze(s.Plan.Analysis, t.Canary, t.Stable)
	switch v.Result {
	case Fail:
		return abortOnAnalysis(s, t, v, now)
	case Inconclusive:
		s.NextAnalysis = now.Add(s.Plan.Interval)
		return decide(s, nil, withSamples(Decision{
			Time:   now,
			Action: DecideHold,
			Reason: fmt.Sprintf("%s kept running: %s; analysed again at %s", s.Stable, v.Reason, s.NextAnalysis.UTC().Format(time.RFC3339)),
		}, t))
	}
	return succeed(s, nil, withSamples(Decision{Time: now, Reason: fmt.Sprintf("analysis passed after the scale-down delay: %s", v.Reason)}, t))
}

// orUnknown stands in for a reason nobody gave.
func orUnknown(reason string) string {
	if reason == "" {
		return "no reason given"
	}
	return reason
}
