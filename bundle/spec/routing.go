package spec

import (
	"fmt"
	"time"
)

// RoutingProblem is one thing wrong with a Routing: the field, from the
// routing mapping on (".health.interval"), and what is wrong with it.
type RoutingProblem struct {
	Field, Msg string
}

// Problems checks r as ferry.yaml has it, or as a site's configuration
// sets it over the bundle's.
func (r *Routing) Problems() []RoutingProblem {
	var out []RoutingProblem
	add := func(field, format string, args ...any) {
		out = append(out, RoutingProblem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch r.Strategy {
	case "", RoutingFailover, RoutingWeighted, RoutingLatency, RoutingGeographic:
	default:
		add(".strategy", "%q is not a routing strategy: use %s, %s, %s or %s", r.Strategy, RoutingFailover, RoutingWeighted, RoutingLatency, RoutingGeographic)
	}
	if r.Tolerance < 0 {
		add(".tolerance", "%s is negative", time.Duration(r.Tolerance))
	}
	h := r.Health
	if h == nil {
		return out
	}
	if h.Interval != 0 && (h.Interval < MinSiteInterval || h.Interval > MaxSiteInterval) {
		add(".health.interval", "%s is outside %s to %s", time.Duration(h.Interval), time.Duration(MinSiteInterval), time.Duration(MaxSiteInterval))
	}
	if h.Timeout < 0 {
		add(".health.timeout", "%s is negative", time.Duration(h.Timeout))
	}
	if h.Failures < 0 || h.Failures > MaxSiteChecks {
		add(".health.failures", "%d is not a count from 1 to %d", h.Failures, MaxSiteChecks)
	}
	if h.Successes < 0 || h.Successes > MaxSiteChecks {
		add(".health.successes", "%d is not a count from 1 to %d", h.Successes, MaxSiteChecks)
	}
	return out
}
