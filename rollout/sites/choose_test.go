package sites

import (
	"net/netip"
	"testing"
	"time"

	"ferry/config"
)

func threeSites() []Site {
	return FromConfig(&config.Sites{Self: "eu-2", Priority: 2, Peers: []config.Peer{
		{Name: "us-1", Region: "us", URL: "https://10.2.0.10:8443", Priority: 3, Weight: 1, Clients: []string{"10.2.0.0/16"}},
		{Name: "eu-1", Region: "eu", URL: "https://10.1.0.10:8443", Priority: 1, Weight: 3, Clients: []string{"10.0.0.0/8"}},
	}})
}

func upSites(s []Site, up ...string) []Site {
	out := append([]Site(nil), s...)
	for i := range out {
		out[i].Healthy = false
		for _, u := range up {
			if out[i].Name == u {
				out[i].Healthy = true
			}
		}
	}
	return out
}

// TestFromConfigOrder: sites are in failover order by priority whatever
// the order of the configuration, this site in its place.
func TestFromConfigOrder(t *testing.T) {
	var names []string
	for _, s := range threeSites() {
		names = append(names, s.Name)
	}
	if got := names; len(got) != 3 || got[0] != "eu-1" || got[1] != "eu-2" || got[2] != "us-1" {
		t.Fatalf("order %v", got)
	}
	if s := threeSites(); !s[1].Local || s[0].Local || s[2].Clients[0] != netip.MustParsePrefix("10.2.0.0/16") {
		t.Fatalf("sites %+v", s)
	}
	tie := FromConfig(&config.Sites{Self: "b", Priority: 1, Peers: []config.Peer{{Name: "a", Priority: 1}}})
	if !tie[0].Local {
		t.Fatalf("this site is not first among equal priorities: %+v", tie)
	}
}

// TestFailoverCascade: the first healthy site by priority takes the
// traffic, down the cascade; with failback off, traffic stays where it
// moved while that site is healthy.
func TestFailoverCascade(t *testing.T) {
	s := threeSites()
	for _, tc := range []struct {
		up       []string
		current  string
		failback bool
		want     string
	}{
		{[]string{"eu-1", "eu-2", "us-1"}, "", true, "eu-1"},
		{[]string{"eu-2", "us-1"}, "eu-1", true, "eu-2"},
		{[]string{"us-1"}, "eu-2", true, "us-1"},
		{nil, "us-1", true, ""},
		{[]string{"eu-1", "us-1"}, "us-1", true, "eu-1"},
		{[]string{"eu-1", "us-1"}, "us-1", false, "us-1"},
		{[]string{"eu-1", "eu-2"}, "us-1", false, "eu-1"},
	} {
		if got := Failover(upSites(s, tc.up...), tc.current, tc.failback); got != tc.want {
			t.Errorf("up %v, current %q, failback %v: got %q, want %q", tc.up, tc.current, tc.failback, got, tc.want)
		}
	}
}

// TestWeighted: every draw lands on a healthy site, each as often as its
// weight says; an unhealthy site gets none.
func TestWeighted(t *testing.T) {
	s := upSites(threeSites(), "eu-1", "eu-2", "us-1") // weights 3, 1, 1
	count := map[string]int{}
	for n := range uint64(50) {
		count[Weighted(s, n)]++
	}
	if count["eu-1"] != 30 || count["eu-2"] != 10 || count["us-1"] != 10 {
		t.Fatalf("counts %v, want 30/10/10", count)
	}
	s = upSites(s, "eu-2", "us-1")
	for n := range uint64(10) {
		if got := Weighted(s, n); got == "eu-1" {
			t.Fatalf("draw %d went to the unhealthy site", n)
		}
	}
	zero := upSites(threeSites(), "us-1")
	zero[2].Weight = 0
	if got := Weighted(zero, 7); got != "us-1" {
		t.Fatalf("no weight among the healthy: got %q, want the failover choice", got)
	}
}

// TestLatencyTolerance: the fastest healthy site wins, but traffic stays
// where it is while the difference is inside the tolerance band, so
// jitter moves nothing; this site has no hop to measure.
func TestLatencyTolerance(t *testing.T) {
	s := upSites(threeSites(), "eu-1", "us-1")
	s[0].Latency, s[2].Latency = 40*time.Millisecond, 12*time.Millisecond
	tol := 10 * time.Millisecond
	if got := Latency(s, "", tol); got != "us-1" {
		t.Fatalf("got %q, want the faster us-1", got)
	}
	s[0].Latency = 15 * time.Millisecond
	if got := Latency(s, "us-1", tol); got != "us-1" {
		t.Fatalf("inside the band: got %q, want us-1 kept", got)
	}
	s[0].Latency = 8 * time.Millisecond
	if got := Latency(s, "us-1", tol); got != "us-1" {
		t.Fatalf("4ms better is inside 10ms: got %q", got)
	}
	s[0].Latency = 1 * time.Millisecond
	if got := Latency(s, "us-1", tol); got != "eu-1" {
		t.Fatalf("11ms better: got %q, want eu-1", got)
	}
	s[2].Healthy = false
	s[0].Healthy = false
	if got := Latency(s, "eu-1", tol); got != "" {
		t.Fatalf("nothing healthy: got %q", got)
	}
	s = upSites(threeSites(), "eu-1", "eu-2")
	s[0].Latency = time.Millisecond
	if got := Latency(s, "eu-1", tol); got != "eu-1" {
		t.Fatalf("this site within the band of eu-1: got %q", got)
	}
	if got := Latency(s, "", 0); got != "eu-2" {
		t.Fatalf("this site, no hop, without a band: got %q", got)
	}
	s[0].Latency = 0 // unknown: not chosen
	s[1].Healthy = false
	if got := Latency(s, "", tol); got != "eu-1" {
		t.Fatalf("no latency known: got %q, want the failover choice", got)
	}
}

// TestGeographic: a client's address picks the healthy site whose range
// holds it, the narrowest range first; else the fallback.
func TestGeographic(t *testing.T) {
	s := upSites(threeSites(), "eu-1", "eu-2", "us-1")
	for _, tc := range []struct {
		client, want string
	}{
		{"10.2.3.4", "us-1"},        // 10.2.0.0/16 beats 10.0.0.0/8
		{"::ffff:10.2.3.4", "us-1"}, // an IPv4 client on a dual-stack socket
		{"10.9.0.1", "eu-1"},        // only 10.0.0.0/8
		{"192.168.1.1", "fallback"}, // no range
		{"", "fallback"},            // no address (a Unix socket)
	} {
		var a netip.Addr
		if tc.client != "" {
			a = netip.MustParseAddr(tc.client)
		}
		if got := Geographic(s, a, "fallback"); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.client, got, tc.want)
		}
	}
	s = upSites(s, "eu-1", "eu-2")
	if got := Geographic(s, netip.MustParseAddr("10.2.3.4"), "eu-1"); got != "eu-1" {
		t.Fatalf("region's site down: got %q, want eu-1 (its /8, healthy)", got)
	}
	s = upSites(s, "eu-2")
	if got := Geographic(s, netip.MustParseAddr("10.2.3.4"), "eu-2"); got != "eu-2" {
		t.Fatalf("no healthy site for the client: got %q, want the fallback", got)
	}
}

// TestNext: the retry goes to the next healthy site after the chosen
// one, never the chosen one again.
func TestNext(t *testing.T) {
	s := upSites(threeSites(), "eu-1", "eu-2", "us-1")
	for chosen, want := range map[string]string{"eu-1": "eu-2", "eu-2": "us-1", "us-1": "eu-1"} {
		if got := Next(s, chosen); got != want {
			t.Errorf("after %s: got %q, want %q", chosen, got, want)
		}
	}
	if got := Next(upSites(s, "eu-1"), "eu-1"); got != "" {
		t.Fatalf("only the chosen one healthy: got %q", got)
	}
}

var netipZero netip.Addr
