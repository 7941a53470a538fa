package rollout

import (
	"fmt"
	"time"
)

// nextCanary handles the events whose meaning is the canary's own: the
// first Healthy shifts the first step of traffic, each due Tick analyses
// the step, and Promote lets an approval step go on.
func nextCanary(s State, ev Event, now time.Time) (State, []Action, error) {
	switch e := ev.(type) {
	case Healthy:
		if s.Phase != PhaseStarting {
			return s, nil, nil
		}
		s, acts := enterStep(s, 1, Decision{Time: now, Reason: s.New + " is healthy"})
		return s, acts, nil
	case Tick:
		s, acts := canaryTick(s, e, now)
		return s, acts, nil
	case Promote:
		if s.Phase != PhaseWaitingApproval {
			return s, nil, refuse(s, ev, "%s", notWaiting(s))
		}
		if s.Paused {
			return s, nil, refuse(s, ev, "the rollout is paused; `ferry rollout resume %s` first", s.Service)
		}
		s, acts := leaveStep(s, Decision{Time: now, Reason: fmt.Sprintf("promoted by the operator at %s", where(s))})
		return s, acts, nil
	case SmokeResult:
		return s, nil, refuse(s, ev, "a canary rollout runs no smoke tests")
	}
	return s, nil, refuse(s, ev, "not an event of a canary rollout")
}

// canaryTick analyses the current step when its interval is over.
func canaryTick(s State, t Tick, now time.Time) (State, []Action) {
	if !s.analyses() {
		return s, nil
	}
	if s, acts, ok := fastFail(s, t, now); ok {
		return s, acts
	}
	switch {
	case s.Paused || s.Phase == PhaseWaitingApproval:
		return watch(s, t, now)
	case now.Before(s.NextAnalysis):
		return s, nil
	}
	v := Analyze(s.Plan.Analysis, t.Canary, t.Stable)
	switch v.Result {
	case Fail:
		return abortOnAnalysis(s, t, v, now)
	case Inconclusive:
		// The window stays: requests gather until there are enough.
		s.NextAnalysis = now.Add(s.Plan.Interval)
		return decide(s, nil, withSamples(Decision{
			Time:   now,
			Action: DecideHold,
			Reason: fmt.Sprintf("held at %s: %s; analysed again at %s", where(s), v.Reason, s.NextAnalysis.UTC().Format(time.RFC3339)),
		}, t))
	}
	d := withSamples(Decision{Time: now, Reason: fmt.Sprintf("analysis passed at %s: %s", where(s), v.Reason)}, t)
	if s.Plan.approves(s.Plan.Steps[s.Step-1]) {
		s.Phase = PhaseWaitingApproval
		s.WindowStart = now
		s.NextAnalysis = now.Add(s.Plan.Interval)
		d.Action = DecideWait
		// The command that approves is the status's "waiting" line;
		// the decision records the fact, so that status says it once.
		d.Reason += fmt.Sprintf("; step %d%% needs approval", s.Weight)
		return decide(s, nil, d)
	}
	return leaveStep(s, d)
}

// leaveStep moves on from the current step: to the next one, or to success
// after the last.
func leaveStep(s State, d Decision) (State, []Action) {
	if s.Step >= len(s.Plan.Steps) {
		return succeed(s, nil, d)
	}
	return enterStep(s, s.Step+1, d)
}

// enterStep gives the canary the traffic of step n (counting from 1) and
// starts that step's interval.
func enterStep(s State, n int, d Decision) (State, []Action) {
	now := d.Time
	s.Phase = PhaseProgressing
	s.Step = n
	s.Weight = s.Plan.Steps[n-1]
	s.StepStarted = now
	s.WindowStart = now
	s.NextAnalysis = now.Add(s.Plan.Interval)
	d.Action = DecideAdvance
	d.Reason += fmt.Sprintf("; %d%% of traffic to %s (step %d of %d), analysed at %s",
		s.Weight, s.New, n, len(s.Plan.Steps), s.NextAnalysis.UTC().Format(time.RFC3339))
	return decide(s, []Action{SetWeight{CanaryPercent: s.Weight}}, d)
}

// notWaiting explains a Promote that comes when nothing waits for one.
func notWaiting(s State) string {
	if len(s.Plan.Approval) == 0 {
		return "this rollout has no approval steps: it goes on by itself after each passing analysis; promote applies only while it waits for approval"
	}
	if s.Phase == PhaseProgressing {
		return fmt.Sprintf("the rollout is at %s and is not waiting for approval; promote applies at an approval step (approval: %v) once its analysis has passed", where(s), s.Plan.Approval)
	}
	return fmt.Sprintf("the rollout is %s and is not waiting for approval (approval: %v)", s.Phase, s.Plan.Approval)
}
