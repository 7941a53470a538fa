package compliance

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"ferry/installer/state"
	"ferry/rollout"
)

// rolloutMarkPrefix names the marks where ferry serve saves each service's
// rollout ("rollout:api"), as JSON of rollout.State.
const rolloutMarkPrefix = "rollout:"

// The audit events ferry serve writes about rollouts besides one
// "rollout.<action>" per decision.
const (
	eventRolloutCommand    = "rollout.command"
	eventRolloutResumed    = "rollout.resumed"
	eventReleaseRolledBack = "rollout.release-rolled-back"
	eventRollbackFailed    = "rollout.rollback-failed"
)

// decisionEvents are the audit events of rollout decisions, one per
// action of the rollout machine.
func decisionEvents() []string {
	var out []string
	for _, a := range []rollout.DecisionAction{
		rollout.DecideStart, rollout.DecideSmoke, rollout.DecideAdvance, rollout.DecideHold, rollout.DecideWait,
		rollout.DecideSwitch, rollout.DecidePause, rollout.DecideResume, rollout.DecideSucceed, rollout.DecideAbort,
	} {
		out = append(out, "rollout."+string(a))
	}
	return out
}

// collectRollouts reads the rollouts ferry serve saved in db and pairs
// them with the rollout entries of the audit log.
func collectRollouts(db *state.DB, log []state.AuditEntry) Rollouts {
	marks, err := db.Marks(rolloutMarkPrefix)
	if err != nil {
		return Rollouts{Problem: "the saved rollouts could not be read: " + err.Error()}
	}
	return rolloutsOf(marks, log)
}

// rolloutsOf builds the rollout evidence from the saved rollouts (marks,
// by mark name) and the audit log. It only reports what was recorded: a
// saved rollout that cannot be read is a problem of its service, and an
// audit entry is taken with the fields it has.
func rolloutsOf(marks map[string][]byte, log []state.AuditEntry) Rollouts {
	services := map[string]*ServiceRollouts{}
	service := func(name string) *ServiceRollouts {
		s := services[name]
		if s == nil {
			s = &ServiceRollouts{Service: name}
			services[name] = s
		}
		return s
	}
	for name, data := range marks {
		svc, ok := strings.CutPrefix(name, rolloutMarkPrefix)
		if !ok {
			continue
		}
		s := service(svc)
		st, err := savedRollout(data)
		if err != nil {
			s.Problem = fmt.Sprintf("the saved rollout (mark %s) cannot be read: %v", name, err)
			continue
		}
		if st.Service != svc {
			s.Problem = fmt.Sprintf("the saved rollout (mark %s) is of service %q: state.db was changed behind ferry's back", name, st.Service)
			continue
		}
		s.Last = rolloutState(st)
	}

	var out Rollouts
	isDecision := setOf(decisionEvents())
	// latest is each service's latest decision so far, which says whose
	// rollout an entry without a service name belongs to.
	latest := map[string]RolloutDecision{}
	for _, e := range log {
		f := e.Fields
		at := e.Time.UTC()
		switch {
		case isDecision[e.Event] && f["service"] != "":
			d := RolloutDecision{
				Seq: e.Seq, Time: at, Action: f["action"], Reason: f["reason"], Strategy: f["strategy"],
				Stable: f["stable"], New: f["new"], Phase: f["phase"], Weight: f["weight"],
				Canary: f["canary"], StableMetrics: f["stable-metrics"],
			}
			if d.Action == "" {
				d.Action = strings.TrimPrefix(e.Event, "rollout.")
			}
			s := service(f["service"])
			s.Decisions = append(s.Decisions, d)
			latest[s.Service] = d
		case e.Event == eventRolloutCommand && f["service"] != "":
			s := service(f["service"])
			s.Commands = append(s.Commands, RolloutCommand{Seq: e.Seq, Time: at, Command: commandName(f["command"]), Outcome: f["outcome"], Reason: f["reason"]})
		case e.Event == eventRolloutResumed && f["service"] != "":
			s := service(f["service"])
			s.Resumed = append(s.Resumed, RolloutResumed{Seq: e.Seq, Time: at, Stable: f["stable"], New: f["new"], Phase: f["phase"], Step: f["step"], Weight: f["weight"]})
		case e.Event == eventReleaseRolledBack || e.Event == eventRollbackFailed:
			r := ReleaseRollback{Seq: e.Seq, Time: at, From: f["from"], To: f["to"], Reason: f["reason"]}
			if e.Event == eventRollbackFailed {
				r.Error = f["error"]
				if r.Error == "" {
					r.Error = "(no error recorded)"
				}
			}
			for _, name := range slices.Sorted(maps.Keys(latest)) {
				d := latest[name]
				if d.Action == string(rollout.DecideAbort) && d.New == r.From && d.Stable == r.To {
					r.Services = append(r.Services, name)
				}
			}
			out.ReleaseRollbacks = append(out.ReleaseRollbacks, r)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		out.Services = append(out.Services, *services[name])
	}
	return out
}

// savedRollout decodes a saved rollout.
func savedRollout(data []byte) (rollout.State, error) {
	var st rollout.State
	if err := json.Unmarshal(data, &st); err != nil {
		return rollout.State{}, err
	}
	return st, nil
}

func rolloutState(st rollout.State) *RolloutState {
	r := &RolloutState{
		Strategy: st.Plan.Strategy, Stable: st.Stable, New: st.New, Phase: string(st.Phase), Paused: st.Paused,
		Started: st.Started.UTC(), Step: st.Step, Steps: slices.Clone(st.Plan.Steps), Weight: st.Weight,
		Approval: slices.Clone(st.Plan.Approval), AbortCause: st.AbortCause,
	}
	if d := st.LastDecision; d != nil {
		r.LastDecision = &RolloutDecision{Time: d.Time.UTC(), Action: string(d.Action), Reason: d.Reason}
		if d.Canary != nil {
			r.LastDecision.Canary = d.Canary.String()
		}
		if d.Stable != nil {
			r.LastDecision.StableMetrics = d.Stable.String()
		}
	}
	return r
}

// commandName is the word an operator typed ("promote"), from a recorded
// command: that word, or the Go type of the event ("rollout.Promote") as
// earlier ferry serve recorded it.
func commandName(recorded string) string {
	return strings.ToLower(strings.TrimPrefix(recorded, "rollout."))
}

func setOf(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}
