package rollout

// Action is what the integrator must do after a transition, in the order
// given: weights first, so that traffic leaves a failing version before
// anything else happens. Every action names what it acts on, so carrying
// one out twice (after a restart) does no harm.
type Action interface {
	isAction()
}

// SetWeight sends CanaryPercent of the service's traffic to the new version
// and the rest to the stable one.
type SetWeight struct {
	CanaryPercent int
}

// StartNew starts the new version's processes (not yet given traffic).
type StartNew struct {
	Version string
}

// StopNew stops the new version's processes.
type StopNew struct {
	Version string
}

// StopOld stops the stable version's processes: the rollout has succeeded
// and no traffic goes to it any more.
type StopOld struct {
	Version string
}

// RunSmoke runs the service's smoke tests (HTTP, command) against the new
// version directly, not through the router, and reports a SmokeResult.
type RunSmoke struct {
	Version string
}

// RollbackRelease returns the appliance from release From to release To
// through the update machinery. It should be a no-op when the current
// release is already To.
type RollbackRelease struct {
	From   string
	To     string
	Reason string
}

// Record writes the decision to the audit log. The same decision is
// State.LastDecision.
type Record struct {
	Decision Decision
}

// Done says the rollout has finished (State.Phase is succeeded or aborted):
// the integrator stops ticking it.
type Done struct {
	Phase Phase
}

func (SetWeight) isAction()       {}
func (StartNew) isAction()        {}
func (StopNew) isAction()         {}
func (StopOld) isAction()         {}
func (RunSmoke) isAction()        {}
func (RollbackRelease) isAction() {}
func (Record) isAction()          {}
func (Done) isAction()            {}
