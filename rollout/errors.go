package rollout

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidPlan is wrapped by errors about a rollout spec that cannot
	// be driven: fix the service's rollout in ferry.yaml.
	ErrInvalidPlan = errors.New("invalid rollout plan")
	// ErrRefused is matched (errors.Is) by every *RefusedError: the event
	// does not apply to the rollout as it is, and nothing changed.
	ErrRefused = errors.New("rollout event refused")
)

// RefusedError says why an event does not apply in the rollout's current
// phase, for `ferry rollout promote|abort|pause|resume` to show the
// operator. The state is unchanged.
type RefusedError struct {
	Service string
	Event   string // "promote", "abort", …
	Phase   Phase
	Why     string // what the rollout is doing and what would work instead
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s %s: refused while %s: %s", e.Event, e.Service, e.Phase, e.Why)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// refuse builds the error for an event that does not apply to s.
func refuse(s State, ev Event, format string, args ...any) error {
	return &RefusedError{Service: s.Service, Event: eventName(ev), Phase: s.Phase, Why: fmt.Sprintf(format, args...)}
}
