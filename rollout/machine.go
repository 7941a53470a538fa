package rollout

import (
	"fmt"
	"time"

	"ferry/bundle/spec"
)

// Start begins the rollout of service svc from version stable to version
// next at time now. The returned actions start the new version; it gets no
// traffic until the health checker reports it Healthy. A service that cannot
// be driven, or versions that make no rollout, give an error wrapping
// ErrInvalidPlan.
func Start(svc spec.Service, stable, next string, now time.Time) (State, []Action, error) {
	switch {
	case stable == "":
		return State{}, nil, fmt.Errorf("rollout of %s: %w: no stable version to roll out from: a first install starts the service without a rollout", svc.Name, ErrInvalidPlan)
	case next == "":
		return State{}, nil, fmt.Errorf("rollout of %s: %w: no new version to roll out", svc.Name, ErrInvalidPlan)
	case stable == next:
		return State{}, nil, fmt.Errorf("rollout of %s: %w: stable and new are both %s: nothing to roll out", svc.Name, ErrInvalidPlan, next)
	}
	plan, err := NewPlan(svc.Rollout)
	if err != nil {
		return State{}, nil, fmt.Errorf("rollout of %s: %w", svc.Name, err)
	}
	s := State{
		Service:     svc.Name,
		Plan:        plan,
		Stable:      stable,
		New:         next,
		Phase:       PhaseStarting,
		Started:     now,
		StepStarted: now,
		WindowStart: now,
	}
	s, acts := decide(s, []Action{StartNew{Version: next}}, Decision{
		Time:   now,
		Action: DecideStart,
		Reason: fmt.Sprintf("%s rollout from %s to %s: starting %s, no traffic until it is healthy", plan.Strategy, stable, next, next),
	})
	return s, acts, nil
}

// Next is the machine: it returns the state after event ev at time now and
// the actions that carry it out. It has no I/O and no clock of its own, so
// the same state, event and time always give the same result.
//
// An event that does not apply (promote when nothing waits for approval, a
// command after the rollout finished) returns s unchanged with a
// *RefusedError saying why. Ticks and health changes never are refused:
// where they mean nothing they change nothing.
func Next(s State, ev Event, now time.Time) (State, []Action, error) {
	if s.Phase.Finished() {
		switch ev.(type) {
		case Tick, Healthy, Unhealthy:
			return s, nil, nil
		}
		if s.Phase == PhaseSucceeded {
			return s, nil, refuse(s, ev, "the rollout has finished: %s takes all traffic and %s is stopped; to go back, use `ferry rollback`", s.New, s.Stable)
		}
		return s, nil, refuse(s, ev, "the rollout was aborted (%s); %s takes all traffic", s.AbortCause, s.Stable)
	}
	switch e := ev.(type) {
	case nil:
		return s, nil, refuse(s, ev, "no event given")
	case Abort:
		cause := e.Cause
		if cause == "" {
			cause = "aborted by the operator"
			if e.Reason != "" {
				cause += ": " + e.Reason
			}
		}
		s, acts := abort(s, now, cause, nil)
		return s, acts, nil
	case Unhealthy:
		cause := s.New + " is unhealthy"
		if e.Reason != "" {
			cause += ": " + e.Reason
		}
		s, acts := abort(s, now, cause, nil)
		return s, acts, nil
	case Pause:
		return pause(s, ev, now)
	case Resume:
		return resume(s, ev, now)
	}
	switch s.Plan.Strategy {
	case spec.StrategyCanary:
		return nextCanary(s, ev, now)
	case spec.StrategyBlueGreen:
		return nextBlueGreen(s, ev, now)
	}
	return s, nil, refuse(s, ev, "the stored state has strategy %q, which this ferry does not know; abort the rollout", s.Plan.Strategy)
}

// Restore continues a stored rollout after `ferry serve` restarted at time
// now. The actions bring the runtime back to what the state says: the new
// version running (unless aborted), the weight, the smoke tests re-run if
// they were running. Metrics kept in memory are gone, so the analysis
// window starts again at now and the next analysis (or the end of the
// scale-down delay) is a full interval away. Restore records no decision.
func Restore(s State, now time.Time) (State, []Action) {
	switch s.Phase {
	case PhaseSucceeded:
		return s, []Action{SetWeight{CanaryPercent: 100}, StopOld{Version: s.Stable}}
	case PhaseAborted:
		return s, []Action{SetWeight{CanaryPercent: 0}, StopNew{Version: s.New}, RollbackRelease{From: s.New, To: s.Stable, Reason: s.AbortCause}}
	}
	acts := []Action{StartNew{Version: s.New}, SetWeight{CanaryPercent: s.Weight}}
	if s.Phase == PhaseSmoke {
		acts = append(acts, RunSmoke{Version: s.New})
	}
	s.WindowStart = now
	s.NextAnalysis = now.Add(s.hold())
	return s, acts
}

// hold is how long the current phase waits before its analysis or its end.
func (s State) hold() time.Duration {
	if s.Phase == PhaseSwitched {
		return s.Plan.ScaleDownDelay
	}
	return s.Plan.Interval
}

// pause stops the rollout from moving forward.
func pause(s State, ev Event, now time.Time) (State, []Action, error) {
	switch {
	case s.Paused:
		return s, nil, refuse(s, ev, "already paused; `ferry rollout resume %s` goes on", s.Service)
	case s.Phase == PhaseStarting || s.Phase == PhaseSmoke:
		return s, nil, refuse(s, ev, "%s gets no traffic yet, so there is nothing to hold; pause applies once traffic shifts, and `ferry rollout abort %s` stops the rollout now", s.New, s.Service)
	}
	s.Paused = true
	s, acts := decide(s, nil, Decision{Time: now, Action: DecidePause, Reason: fmt.Sprintf("paused by the operator at %s", where(s))})
	return s, acts, nil
}

// resume lets a paused rollout go on. The pending analysis (or the end of
// the scale-down delay) is a full interval from now, so the rollout watches
// the new version for that long before it moves.
func resume(s State, ev Event, now time.Time) (State, []Action, error) {
	if !s.Paused {
		return s, nil, refuse(s, ev, "the rollout is not paused")
	}
	s.Paused = false
	s.NextAnalysis = now.Add(s.hold())
	next := "next analysis"
	if s.Phase == PhaseSwitched {
		next = "scale-down of " + s.Stable
	}
	if s.Phase == PhaseWaitingApproval {
		next = "waiting for approval"
	} else {
		next += " at " + s.NextAnalysis.UTC().Format(time.RFC3339)
	}
	s, acts := decide(s, nil, Decision{Time: now, Action: DecideResume, Reason: fmt.Sprintf("resumed by the operator at %s; %s", where(s), next)})
	return s, acts, nil
}

// watch runs a due analysis while the rollout holds (paused, or waiting
// for approval). A failure aborts; a pass only moves the window on, and
// neither a pass nor an inconclusive result is recorded, so the last
// decision keeps saying why the rollout holds.
func watch(s State, t Tick, now time.Time) (State, []Action) {
	if now.Before(s.NextAnalysis) || !s.analyses() {
		return s, nil
	}
	v := Analyze(s.Plan.Analysis, t.Canary, t.Stable)
	s.NextAnalysis = now.Add(s.Plan.Interval)
	switch v.Result {
	case Fail:
		return abortOnAnalysis(s, t, v, now)
	case Pass:
		s.WindowStart = now
	}
	return s, nil
}

// analyses reports whether the new version gets traffic the analysis can
// judge in the current phase.
func (s State) analyses() bool {
	if s.Plan.canary() {
		return s.Phase == PhaseProgressing || s.Phase == PhaseWaitingApproval
	}
	return s.Phase == PhaseSwitched && s.Plan.Analysis != nil
}

// succeed ends the rollout with all traffic on the new version.
func succeed(s State, acts []Action, d Decision) (State, []Action) {
	s.Phase = PhaseSucceeded
	s.Paused = false
	s.Weight = 100
	acts = append(acts, StopOld{Version: s.Stable})
	d.Reason += fmt.Sprintf("; all traffic on %s, %s stopped", s.New, s.Stable)
	d.Action = DecideSucceed
	s, acts = decide(s, acts, d)
	return s, append(acts, Done{Phase: s.Phase})
}

// abort ends the rollout with all traffic back on the stable version, the
// new one stopped and the release rolled back. Weight comes first: traffic
// leaves the new version before anything else happens.
func abort(s State, now time.Time, cause string, samples *Tick) (State, []Action) {
	s.Phase = PhaseAborted
	s.Paused = false
	s.Weight = 0
	s.AbortCause = cause
	acts := []Action{
		SetWeight{CanaryPercent: 0},
		StopNew{Version: s.New},
		RollbackRelease{From: s.New, To: s.Stable, Reason: cause},
	}
	d := Decision{Time: now, Action: DecideAbort, Reason: fmt.Sprintf("%s; all traffic back on %s", cause, s.Stable)}
	if samples != nil {
		d.Canary, d.Stable = &samples.Canary, &samples.Stable
	}
	s, acts = decide(s, acts, d)
	return s, append(acts, Done{Phase: s.Phase})
}

// abortOnAnalysis aborts because an analysis failed.
func abortOnAnalysis(s State, t Tick, v Verdict, now time.Time) (State, []Action) {
	return abort(s, now, fmt.Sprintf("analysis failed at %s: %s", where(s), v.Reason), &t)
}

// decide makes d the last decision and sends it to the audit log.
func decide(s State, acts []Action, d Decision) (State, []Action) {
	s.LastDecision = &d
	return s, append(acts, Record{Decision: d})
}

// withSamples is d carrying the samples a decision was based on.
func withSamples(d Decision, t Tick) Decision {
	d.Canary, d.Stable = &t.Canary, &t.Stable
	return d
}

// where says where a rollout stands, for reasons and messages.
func where(s State) string {
	if s.Step == 0 {
		return "the start, before any traffic went to " + s.New
	}
	return fmt.Sprintf("step %d of %d (%d%% of traffic to %s)", s.Step, len(s.Plan.Steps), s.Weight, s.New)
}
