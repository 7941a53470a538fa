package rollout

import "time"

// Phase is where a rollout is.
type Phase string

const (
	// PhaseStarting means the new version has been started and is not healthy
	// yet. It gets no traffic.
	PhaseStarting Phase = "starting"
	// PhaseSmoke (blue-green): green is healthy; its smoke tests run.
	PhaseSmoke Phase = "smoke"
	// PhaseProgressing (canary): the canary has the current step's share of
	// traffic; the step's analysis is pending.
	PhaseProgressing Phase = "progressing"
	// PhaseWaitingApproval means a canary step's analysis passed at an approval
	// step, or blue-green is ready to switch; `ferry rollout promote` goes
	// on.
	PhaseWaitingApproval Phase = "waiting-approval"
	// PhaseSwitched (blue-green): all traffic is on green; blue keeps
	// running for the scale-down delay, during which rollback is instant.
	PhaseSwitched Phase = "switched"
	// PhaseSucceeded means all traffic is on the new version and the stable one
	// is stopped. Final.
	PhaseSucceeded Phase = "succeeded"
	// PhaseAborted means all traffic is back on the stable version, the new one
	// is stopped and the release rolled back; AbortCause says why. Final.
	PhaseAborted Phase = "aborted"
)

// Finished reports whether the phase is final.
func (p Phase) Finished() bool { return p == PhaseSucceeded || p == PhaseAborted }

// State is one service's rollout. It is plain data that marshals to JSON,
// so the integrator stores it (in bbolt) after every transition and a
// restarted `ferry serve` continues it (see Restore).
type State struct {
	Service string `json:"service"`
	Plan    Plan   `json:"plan"`
	Stable  string `json:"stable"` // the version traffic moves from
	New     string `json:"new"`    // the version traffic moves to
	Phase   Phase  `json:"phase"`
	// Step is the step reached, counting from 1 (Plan.Steps[Step-1]); 0
	// before any traffic went to the new version. After an abort it stays
	// at the step where the rollout stopped.
	Step int `json:"step"`
	// Weight is the percentage of traffic on the new version.
	Weight int  `json:"weight"`
	Paused bool `json:"paused,omitempty"`
	// Started is when the rollout began; StepStarted when the current
	// step (or phase) began.
	Started     time.Time `json:"started"`
	StepStarted time.Time `json:"stepStarted"`
	// WindowStart is where the samples of the next Tick must begin: the
	// analysis judges the traffic since then. It moves on after a
	// conclusive analysis and stays put while results are inconclusive, so
	// that a quiet service gathers requests until it can be judged.
	WindowStart time.Time `json:"windowStart"`
	// NextAnalysis is when the next analysis (or, for blue-green, the end
	// of the scale-down delay) is due.
	NextAnalysis time.Time `json:"nextAnalysis"`
	// LastDecision is the most recent decision, also sent to the audit log.
	LastDecision *Decision `json:"lastDecision,omitempty"`
	// AbortCause says why the rollout was aborted.
	AbortCause string `json:"abortCause,omitempty"`
}

// DecisionAction names what the machine decided.
type DecisionAction string

// The decisions, each with what it means.
const (
	DecideStart   DecisionAction = "start"         // the new version is being started
	DecideSmoke   DecisionAction = "smoke"         // green is healthy; smoke tests run
	DecideAdvance DecisionAction = "advance"       // the canary moves to its next step
	DecideHold    DecisionAction = "hold"          // inconclusive analysis: the step is held
	DecideWait    DecisionAction = "wait-approval" // waiting for `ferry rollout promote`
	DecideSwitch  DecisionAction = "switch"        // blue-green: all traffic to green
	DecidePause   DecisionAction = "pause"         // paused by the operator
	DecideResume  DecisionAction = "resume"        // resumed by the operator
	DecideSucceed DecisionAction = "succeed"       // done; the old version is stopped
	DecideAbort   DecisionAction = "abort"         // traffic back to stable; release rolled back
)

// Decision is one step of the machine's reasoning, for the audit log and
// `ferry rollout status`. Canary and Stable are the samples an analysis
// judged, when the decision came from one.
type Decision struct {
	Time   time.Time      `json:"time"`
	Action DecisionAction `json:"action"`
	Reason string         `json:"reason"`
	Canary *Sample        `json:"canary,omitempty"`
	Stable *Sample        `json:"stable,omitempty"`
}
