package spec

import (
	"strings"
	"testing"
	"time"
)

// TestParseSpecRoutingAcrossSites: a service's routing across sites is
// read with its defaults, and each mistake names its field and line.
func TestParseSpecRoutingAcrossSites(t *testing.T) {
	dir := specTree(t)
	base := strings.Replace(validSpecText(t), "env: {LOG_LEVEL: info}",
		"env: {LOG_LEVEL: info}\n        routing: {strategy: latency, failback: false, health: {interval: 500ms, failures: 2, successes: 4}}", 1)
	s, err := parse([]byte(base), "ferry.yaml", dir, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Components[2].Services[0].Routing.WithDefaults()
	if r.Strategy != RoutingLatency || *r.Failback || r.Tolerance != DefaultSiteTolerance ||
		*r.Health != (SiteHealth{Interval: Duration(500 * time.Millisecond), Timeout: Duration(250 * time.Millisecond), Failures: 2, Successes: 4}) {
		t.Fatalf("routing %+v health %+v", r, r.Health)
	}
	if d := (*Routing)(nil).WithDefaults(); d.Strategy != RoutingFailover || !*d.Failback || d.Health.Failures != 2 || d.Health.Successes != 3 || d.Health.Interval != DefaultSiteInterval {
		t.Fatalf("defaults %+v %+v", d, d.Health)
	}
	for _, tc := range []struct{ old, new, field string }{
		{"strategy: latency", "strategy: nearest", "routing.strategy"},
		{"interval: 500ms", "interval: 1ms", "routing.health.interval"},
		{"failures: 2", "failures: -1", "routing.health.failures"},
		{"successes: 4", "successes: 101", "routing.health.successes"},
		{"failback: false", "failback: false, tolerance: -1s", "routing.tolerance"},
		{"failback: false", "failback: false, weights: 2", "routing.weights"},
	} {
		_, err := parse([]byte(strings.Replace(base, tc.old, tc.new, 1)), "ferry.yaml", dir, Sources{})
		found := false
		for _, e := range specErrors(t, err) {
			found = found || (strings.HasSuffix(e.Field, tc.field) && e.Line > 0)
		}
		if !found {
			t.Errorf("%s -> %s: got %v, want an error at %s", tc.old, tc.new, err, tc.field)
		}
	}
}
