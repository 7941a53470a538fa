package sites

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"ferry/bundle/spec"
	"ferry/config"
)

// testPeer is a peer site's listener answering the health endpoint over
// mutual TLS, serving the service or not as the test says.
type testPeer struct {
	srv     *httptest.Server
	serving atomic.Bool
}

func startPeer(t *testing.T, id *Identity) *testPeer {
	t.Helper()
	p := &testPeer{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := HealthAnswer{Site: id.Self, Service: r.URL.Query().Get("service"), Serving: p.serving.Load()}
		if !a.Serving {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(a)
	}))
	p.srv.TLS = id.ServerTLS()
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests want
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

func identities(t *testing.T, dir string, names ...string) map[string]*Identity {
	t.Helper()
	if err := MakeCerts(dir, names); err != nil {
		t.Fatal(err)
	}
	out := map[string]*Identity{}
	for _, n := range names {
		id, err := LoadIdentity(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = id
	}
	return out
}

type decisions struct {
	mu  sync.Mutex
	got []Decision
}

func (d *decisions) add(x Decision) { d.mu.Lock(); d.got = append(d.got, x); d.mu.Unlock() }
func (d *decisions) list() []Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Decision(nil), d.got...)
}

// TestMonitorHysteresis: over real mutual TLS, a peer comes into the
// failover order only after `successes` passing checks in a row and
// leaves it after `failures` failing ones; checks that alternate move no
// traffic; every move is a Decision with its cause.
func TestMonitorHysteresis(t *testing.T) {
	ids := identities(t, t.TempDir(), "eu-1", "eu-2")
	primary := startPeer(t, ids["eu-1"])
	sites := FromConfig(&config.Sites{Self: "eu-2", Priority: 2, Peers: []config.Peer{{Name: "eu-1", URL: primary.srv.URL, Priority: 1, Weight: 1}}})
	var d decisions
	m := NewMonitor("api", &spec.Routing{Health: &spec.SiteHealth{Failures: 2, Successes: 3}}, sites, ids["eu-2"], d.add)
	ctx := context.Background()
	check := func(n int) {
		t.Helper()
		for range n {
			_ = m.checkers["eu-1"].Once(ctx)
		}
	}
	route := func() string { first, _ := m.Route(netipZero); return first }

	m.SetLocal(true, "health check passes")
	if r := route(); r != "eu-2" {
		t.Fatalf("before any check: %q", r)
	}
	primary.serving.Store(true)
	check(2)
	if r := route(); r != "eu-2" {
		t.Fatalf("after 2 of 3 passing checks the primary took traffic: %q", r)
	}
	check(1)
	if r := route(); r != "eu-1" {
		t.Fatalf("after 3 passing checks: %q, want eu-1", r)
	}
	primary.serving.Store(false)
	check(1)
	if r := route(); r != "eu-1" {
		t.Fatalf("one failed check moved traffic: %q", r)
	}
	check(1)
	if r := route(); r != "eu-2" {
		t.Fatalf("after 2 failed checks: %q, want eu-2", r)
	}
	for i := range 9 { // flapping peer: never 3 passes in a row, ending with a fail
		primary.serving.Store(i%3 != 2)
		check(1)
		if r := route(); r != "eu-2" {
			t.Fatalf("check %d of a flapping peer moved traffic to %q", i, r)
		}
	}
	primary.serving.Store(true)
	check(2)
	if r := route(); r != "eu-2" {
		t.Fatalf("failback before 3 passes: %q", r)
	}
	check(1)
	if r := route(); r != "eu-1" {
		t.Fatalf("no failback after 3 passes: %q", r)
	}

	got := d.list()
	if len(got) != 3 {
		t.Fatalf("decisions %+v, want failback, failover, failback", got)
	}
	for i, want := range []struct{ kind, from, to, cause string }{
		{KindFailback, "eu-2", "eu-1", "site eu-1 healthy: 3 checks in a row passed"},
		{KindFailover, "eu-1", "eu-2", "site eu-1 unhealthy: 2 checks in a row failed, the last: site eu-1: does not serve api itself"},
		{KindFailback, "eu-2", "eu-1", "site eu-1 healthy"},
	} {
		g := got[i]
		if g.Kind != want.kind || g.From != want.from || g.To != want.to || !strings.HasPrefix(g.Cause, want.cause) || g.Service != "api" {
			t.Errorf("decision %d: %+v, want %+v", i, g, want)
		}
	}
	st := m.Status()
	if st.Failovers != 1 || st.Failbacks != 2 || st.Active != "eu-1" || len(st.Sites) != 2 || !st.Sites[0].Healthy || st.Sites[0].LatencyMS <= 0 || st.Sites[0].Checks != 17 {
		t.Fatalf("status %+v", st)
	}
}

// TestMonitorCascade: with this site last, losing the first and second
// sites moves traffic down the cascade, and the local site losing its
// service moves it on.
func TestMonitorCascade(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b", "c")
	pa, pb := startPeer(t, ids["a"]), startPeer(t, ids["b"])
	sites := FromConfig(&config.Sites{Self: "c", Priority: 3, Peers: []config.Peer{
		{Name: "a", URL: pa.srv.URL, Priority: 1, Weight: 1}, {Name: "b", URL: pb.srv.URL, Priority: 2, Weight: 1}}})
	var d decisions
	m := NewMonitor("api", &spec.Routing{Health: &spec.SiteHealth{Failures: 1, Successes: 1}}, sites, ids["c"], d.add)
	ctx := context.Background()
	m.SetLocal(true, "ok")
	pa.serving.Store(true)
	pb.serving.Store(true)
	_ = m.checkers["a"].Once(ctx)
	_ = m.checkers["b"].Once(ctx)
	for _, step := range []struct {
		down string
		want string
		next string
	}{{"", "a", "b"}, {"a", "b", "c"}, {"b", "c", ""}} {
		switch step.down {
		case "a":
			pa.serving.Store(false)
			_ = m.checkers["a"].Once(ctx)
		case "b":
			pb.serving.Store(false)
			_ = m.checkers["b"].Once(ctx)
		}
		if first, next := m.Route(netipZero); first != step.want || next != step.next {
			t.Fatalf("%s down: route %q then %q, want %q then %q", step.down, first, next, step.want, step.next)
		}
	}
	m.SetLocal(false, "version 1.0.0 unhealthy")
	if first, next := m.Route(netipZero); first != "c" || next != "" {
		t.Fatalf("nothing healthy: %q, %q; want this site to try", first, next)
	}
	if got := d.list(); len(got) != 4 || got[3].To != "" || !strings.Contains(got[3].Cause, "site c (this site) unhealthy") {
		t.Fatalf("decisions %+v", got)
	}
}

// TestPeerFromAnotherCARefused: a peer whose certificate does not chain
// to the site CA is never healthy, and a client with such a certificate
// is refused by a site's listener.
func TestPeerFromAnotherCARefused(t *testing.T) {
	ours := identities(t, t.TempDir(), "eu-1", "eu-2")
	theirs := identities(t, t.TempDir(), "eu-1", "eu-2")
	impostor := startPeer(t, theirs["eu-1"])
	impostor.serving.Store(true)
	sites := FromConfig(&config.Sites{Self: "eu-2", Priority: 2, Peers: []config.Peer{{Name: "eu-1", URL: impostor.srv.URL, Priority: 1, Weight: 1}}})
	m := NewMonitor("api", &spec.Routing{Health: &spec.SiteHealth{Failures: 1, Successes: 1}}, sites, ours["eu-2"], nil)
	err := m.checkers["eu-1"].Once(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("check of a peer from another CA: %v", err)
	}
	if m.Status().Sites[0].Healthy {
		t.Fatal("a peer from another CA is healthy")
	}

	genuine := startPeer(t, ours["eu-1"])
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: theirs["eu-2"].ClientTLS("eu-1")}}
	c.Transport.(*http.Transport).TLSClientConfig.RootCAs = ours["eu-1"].CAs // it trusts us; we do not trust it
	if resp, err := c.Get(genuine.srv.URL + HealthPath); err == nil {
		resp.Body.Close()
		t.Fatalf("a client from another CA was answered %s", resp.Status)
	}
	// A certificate of the right CA for another site is not this peer.
	wrong := &http.Client{Transport: &http.Transport{TLSClientConfig: ours["eu-2"].ClientTLS("eu-3")}}
	if resp, err := wrong.Get(genuine.srv.URL + HealthPath); err == nil {
		resp.Body.Close()
		t.Fatal("eu-1's certificate accepted for eu-3")
	}
}

// TestMakeCerts: keys are 0600, a second run keeps the CA, and an
// identity whose certificate is another CA's does not load.
func TestMakeCerts(t *testing.T) {
	dir := t.TempDir()
	if err := MakeCerts(dir, []string{"eu-1"}); err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(filepath.Join(dir, CACertFile))
	if err := MakeCerts(dir, []string{"eu-2"}); err != nil {
		t.Fatal(err)
	}
	if ca2, _ := os.ReadFile(filepath.Join(dir, CACertFile)); string(ca1) != string(ca2) {
		t.Fatal("a second run made a new CA")
	}
	for _, f := range []string{CAKeyFile, "eu-1.key", "eu-2.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	if _, err := LoadIdentity(dir, "eu-1"); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := MakeCerts(other, []string{"eu-1"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"eu-1.crt", "eu-1.key"} {
		b, _ := os.ReadFile(filepath.Join(other, f))
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadIdentity(dir, "eu-1"); err == nil || !strings.Contains(err.Error(), "not the site CA's") {
		t.Fatalf("identity of another CA: %v", err)
	}
	if err := MakeCerts(dir, []string{"EU"}); err == nil {
		t.Fatal("bad site name accepted")
	}
}
