package compliance

import (
	"strings"
	"testing"
	"time"
)

// TestSitesControls: CP-7 and SC-8 are not applicable without peer
// sites, and decided from the audit log's set-up, failovers and
// failbacks with them; CP-10 counts the failbacks.
func TestSitesControls(t *testing.T) {
	now := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	find := func(ev *Evidence, id string) Finding {
		t.Helper()
		for _, f := range Assess(ev) {
			if f.Control == id {
				return f
			}
		}
		t.Fatalf("no finding for %s", id)
		return Finding{}
	}
	alone := &Evidence{Collected: now, Current: "1.0.0"}
	for _, id := range []string{"cp-7", "sc-8"} {
		if f := find(alone, id); f.Status != NotApplicable {
			t.Errorf("%s without peers: %s (%s)", id, f.Status, f.Summary)
		}
	}
	ev := &Evidence{Collected: now, Current: "1.0.0", Sites: Sites{
		Setups: []SiteSetup{{Seq: 7, Time: now, Self: "b", Priority: "2", Listen: "10.0.0.2:8443", Peers: "a (https://10.0.0.1:8443, priority 1)",
			Services: "api", Transport: "HTTPS, mutual TLS 1.3, site CA sha256:00ff"}},
		Moves: []SiteMove{
			{Seq: 9, Time: now, Kind: "failover", Service: "api", Self: "b", From: "a", To: "b", Cause: "site a unhealthy: 2 checks in a row failed"},
			{Seq: 12, Time: now, Kind: "failback", Service: "api", Self: "b", From: "b", To: "a", Cause: "site a healthy: 3 checks in a row passed"},
		}}}
	for id, want := range map[string][]string{
		"cp-7":  {"peers a (https://10.0.0.1:8443, priority 1)", "failover of service api at site b (audit entry 9): traffic from a to b, because site a unhealthy", "1 failover(s)"},
		"cp-10": {"failback of service api at site b (audit entry 12)", "1 failback(s)"},
		"sc-8":  {"mutual TLS 1.3, site CA sha256:00ff"},
	} {
		f := find(ev, id)
		if f.Status != Satisfied {
			t.Errorf("%s: %s (%s)", id, f.Status, f.Summary)
		}
		var text []string
		for _, it := range f.Evidence {
			text = append(text, it.Description)
		}
		for _, w := range want {
			if !strings.Contains(strings.Join(text, "\n"), w) {
				t.Errorf("%s evidence does not say %q:\n%s", id, w, strings.Join(text, "\n"))
			}
		}
	}
}
