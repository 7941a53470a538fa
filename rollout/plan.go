package rollout

import (
	"fmt"
	"slices"
	"time"

	"ferry/bundle/spec"
)

// Defaults for what a service's rollout spec leaves out. They live in one
// place so that doc.go, `ferry rollout status` and the tests agree.
const (
	// DefaultStrategy is used when a service has no rollout spec or no
	// strategy: blue-green gates on health and smoke tests and needs no
	// thresholds, so it is safe for a service nobody tuned.
	DefaultStrategy = spec.StrategyBlueGreen
	// DefaultInterval is how long a canary step is held before its analysis,
	// and how long to wait between analyses that were inconclusive.
	DefaultInterval = 30 * time.Second
	// DefaultScaleDownDelay is how long blue-green keeps the old version
	// running after the switch, so that a rollback is only a weight change.
	// The spec has no field for it yet.
	DefaultScaleDownDelay = 30 * time.Second
)

// defaultCanarySteps are the canary's percentages when the spec names none.
func defaultCanarySteps() []int { return []int{10, 25, 50, 100} }

// Plan is a service's rollout spec with every default filled in. It is kept
// in State, so a rollout resumed after a restart of `ferry serve` continues
// with the plan it started with.
type Plan struct {
	// Strategy is spec.StrategyCanary or spec.StrategyBlueGreen.
	Strategy string `json:"strategy"`
	// Steps are the percentages of traffic the new version gets, strictly
	// increasing and ending with 100. Blue-green has the single step 100.
	Steps []int `json:"steps"`
	// Interval is how long a canary step is held before its analysis.
	Interval time.Duration `json:"interval"`
	// ScaleDownDelay is how long blue-green keeps the old version after the
	// switch.
	ScaleDownDelay time.Duration `json:"scaleDownDelay"`
	// Approval lists the steps that wait for `ferry rollout promote`.
	Approval []int `json:"approval,omitempty"`
	// Analysis holds the thresholds. A canary always runs an analysis (the
	// defaults of Analyze when nil); blue-green only when the spec has one.
	Analysis *spec.Analysis `json:"analysis,omitempty"`
}

// NewPlan resolves a service's rollout spec, which may be nil, into a Plan.
// The spec is normally checked when the bundle is built; NewPlan checks it
// again because a plan it accepts is driven without further questions. The
// error wraps ErrInvalidPlan.
func NewPlan(r *spec.Rollout) (Plan, error) {
	if r == nil {
		r = &spec.Rollout{}
	}
	p := Plan{
		Strategy:       r.Strategy,
		Interval:       time.Duration(r.Interval),
		ScaleDownDelay: DefaultScaleDownDelay,
		Approval:       slices.Clone(r.Approval),
	}
	if r.ScaleDownDelay > 0 {
		p.ScaleDownDelay = time.Duration(r.ScaleDownDelay)
	}
	if p.Strategy == "" {
		p.Strategy = DefaultStrategy
	}
	if p.Interval == 0 {
		p.Interval = DefaultInterval
	}
	if p.Interval < 0 {
		return Plan{}, fmt.Errorf("%w: interval %v is negative: write a duration such as 30s", ErrInvalidPlan, p.Interval)
	}
	switch p.Strategy {
	case spec.StrategyCanary:
		p.Steps = slices.Clone(r.Steps)
		if len(p.Steps) == 0 {
			p.Steps = defaultCanarySteps()
		}
		for i, s := range p.Steps {
			switch {
			case s < 1 || s > 100:
				return Plan{}, fmt.Errorf("%w: steps[%d] is %d, not a percentage from 1 to 100", ErrInvalidPlan, i, s)
			case i > 0 && s <= p.Steps[i-1]:
				return Plan{}, fmt.Errorf("%w: steps[%d] is %d after %d: steps must go up strictly", ErrInvalidPlan, i, s, p.Steps[i-1])
			}
		}
		if last := p.Steps[len(p.Steps)-1]; last != 100 {
			return Plan{}, fmt.Errorf("%w: the last step is %d: a canary ends with 100, all traffic on the new version", ErrInvalidPlan, last)
		}
	case spec.StrategyBlueGreen:
		if len(r.Steps) > 0 {
			return Plan{}, fmt.Errorf("%w: a blue-green rollout switches all traffic at once: remove steps, or use strategy %s", ErrInvalidPlan, spec.StrategyCanary)
		}
		p.Steps = []int{100}
	default:
		return Plan{}, fmt.Errorf("%w: %q is not a strategy: use %s or %s", ErrInvalidPlan, p.Strategy, spec.StrategyCanary, spec.StrategyBlueGreen)
	}
	for i, a := range p.Approval {
		if !slices.Contains(p.Steps, a) {
			return Plan{}, fmt.Errorf("%w: approval[%d] is %d, not one of the steps %v", ErrInvalidPlan, i, a, p.Steps)
		}
		if slices.Contains(p.Approval[:i], a) {
			return Plan{}, fmt.Errorf("%w: approval[%d] lists %d twice", ErrInvalidPlan, i, a)
		}
	}
	if a := r.Analysis; a != nil {
		if a.MinRequests < 0 {
			return Plan{}, fmt.Errorf("%w: analysis minRequests %d is negative", ErrInvalidPlan, a.MinRequests)
		}
		c := *a
		p.Analysis = &c
	}
	return p, nil
}

// canary reports whether the plan shifts traffic in steps.
func (p Plan) canary() bool { return p.Strategy == spec.StrategyCanary }

// approves reports whether the step of the given percentage waits for
// Promote.
func (p Plan) approves(percent int) bool { return slices.Contains(p.Approval, percent) }
