package rollout

// Event is something that happened to a rollout: time passing with the
// metrics of the interval, a health change, a smoke test result, or an
// operator's command. Next decides what follows.
type Event interface {
	eventName() string
}

// Tick is the integrator's regular call (every few seconds). The machine
// itself decides whether an analysis or a scale-down is due.
//
// Canary and Stable cover the traffic of the new version (the canary, or
// green) and of the stable one since State.WindowStart.
type Tick struct {
	Canary Sample
	Stable Sample
}

// Healthy is sent by the health checker when the new version turns healthy
// (after its hysteresis). It matters while the rollout is starting.
type Healthy struct{}

// Unhealthy is sent by the health checker when the new version turns
// unhealthy. At any phase before the end it aborts the rollout.
type Unhealthy struct {
	Reason string // such as "GET /healthz: 503 three times in a row"
}

// SmokeResult is the outcome of the smoke tests asked for by RunSmoke.
type SmokeResult struct {
	OK     bool
	Reason string // what failed, or a summary of what passed
}

// Promote is `ferry rollout promote`: it lets a rollout waiting at an
// approval step go on.
type Promote struct{}

// Abort is `ferry rollout abort`: all traffic back to the stable version,
// the new one stopped and the release rolled back. It applies at any phase
// until the rollout has finished.
type Abort struct {
	Reason string // what the operator gave, if anything
	// Cause, when ferry serve itself aborts (a version that never became
	// healthy, another release made current), is the whole abort cause:
	// it is not the operator's, and is not labelled so.
	Cause string
}

// Pause is `ferry rollout pause`: the rollout stops moving forward (no
// step, no switch, no scale-down, no promote) while the analysis keeps
// watching and still aborts on a breach.
type Pause struct{}

// Resume is `ferry rollout resume`: a paused rollout goes on, after a full
// interval (or scale-down delay) from the moment it is resumed.
type Resume struct{}

func (Tick) eventName() string        { return "tick" }
func (Healthy) eventName() string     { return "healthy" }
func (Unhealthy) eventName() string   { return "unhealthy" }
func (SmokeResult) eventName() string { return "smoke result" }
func (Promote) eventName() string     { return "promote" }
func (Abort) eventName() string       { return "abort" }
func (Pause) eventName() string       { return "pause" }
func (Resume) eventName() string      { return "resume" }

// eventName names an event for messages, including a nil one.
func eventName(ev Event) string {
	if ev == nil {
		return "nil event"
	}
	return ev.eventName()
}
