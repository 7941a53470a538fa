package rollout

import (
	"fmt"
	"strings"
	"time"
)

// Status is what `ferry rollout status` shows of a rollout, besides the
// live metrics per version that the integrator adds.
type Status struct {
	Service  string `json:"service"`
	Strategy string `json:"strategy"`
	Stable   string `json:"stable"`
	New      string `json:"new"`
	Phase    Phase  `json:"phase"`
	Paused   bool   `json:"paused"`
	// Step of Steps: the step reached, 0 before any traffic shifted.
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// StableWeight and NewWeight are percentages of traffic; they add up
	// to 100.
	StableWeight int `json:"stableWeight"`
	NewWeight    int `json:"newWeight"`
	// Waiting says what the rollout waits for next; empty once finished.
	Waiting      string    `json:"waiting,omitempty"`
	LastDecision *Decision `json:"lastDecision,omitempty"`
	AbortCause   string    `json:"abortCause,omitempty"`
	// Started is when the rollout began.
	Started time.Time `json:"started"`
}

// Status is the view of s for `ferry rollout status`.
func (s State) Status() Status {
	return Status{
		Service:      s.Service,
		Strategy:     s.Plan.Strategy,
		Stable:       s.Stable,
		New:          s.New,
		Phase:        s.Phase,
		Paused:       s.Paused,
		Step:         s.Step,
		Steps:        len(s.Plan.Steps),
		StableWeight: 100 - s.Weight,
		NewWeight:    s.Weight,
		Waiting:      waiting(s),
		LastDecision: s.LastDecision,
		AbortCause:   s.AbortCause,
		Started:      s.Started,
	}
}

// waiting says what moves s on.
func waiting(s State) string {
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case s.Phase.Finished():
		return ""
	case s.Paused:
		return fmt.Sprintf("`ferry rollout resume %s` (paused; a failing analysis still aborts)", s.Service)
	}
	switch s.Phase {
	case PhaseStarting:
		return s.New + " to become healthy"
	case PhaseSmoke:
		return "smoke tests against " + s.New
	case PhaseWaitingApproval:
		return fmt.Sprintf("`ferry rollout promote %s`", s.Service)
	case PhaseProgressing:
		return "analysis at " + at(s.NextAnalysis)
	case PhaseSwitched:
		if s.Plan.Analysis != nil {
			return fmt.Sprintf("analysis at %s, then %s stops", at(s.NextAnalysis), s.Stable)
		}
		return fmt.Sprintf("end of the scale-down delay at %s, then %s stops", at(s.NextAnalysis), s.Stable)
	}
	return ""
}

// String is the plain-text form of the status, a few lines:
//
//	api: canary from 1.4.0 to 1.5.0, progressing
//	step 2 of 6: 1.4.0 95%, 1.5.0 5%
//	waiting for: analysis at 2026-01-02T15:04:35Z
//	last decision: 2026-01-02T15:04:05Z advance: analysis passed at …
func (st Status) String() string {
	var b strings.Builder
	phase := string(st.Phase)
	if st.Paused {
		phase += ", paused"
	}
	fmt.Fprintf(&b, "%s: %s from %s to %s, %s\n", st.Service, st.Strategy, st.Stable, st.New, phase)
	fmt.Fprintf(&b, "step %d of %d: %s %d%%, %s %d%%\n", st.Step, st.Steps, st.Stable, st.StableWeight, st.New, st.NewWeight)
	if st.Waiting != "" {
		fmt.Fprintf(&b, "waiting for: %s\n", st.Waiting)
	}
	if st.AbortCause != "" {
		fmt.Fprintf(&b, "abort cause: %s\n", st.AbortCause)
	}
	if d := st.LastDecision; d != nil {
		fmt.Fprintf(&b, "last decision: %s %s: %s\n", d.Time.UTC().Format(time.RFC3339), d.Action, d.Reason)
	}
	return b.String()
}
