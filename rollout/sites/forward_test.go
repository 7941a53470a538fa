package sites

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry/config"
	"ferry/rollout/router"
)

// testSite is one site in a process: a backend standing for the
// service's version, the service's router on a public loopback port, and
// the site listener for peers over mutual TLS.
type testSite struct {
	name     string
	backend  *httptest.Server
	hits     atomic.Int64
	mu       sync.Mutex
	lastReq  *http.Request
	router   *router.Router
	public   string // http://host:port
	peerURL  string // https://host:port of the site listener
	id       *Identity
	serving  atomic.Bool
	listener net.Listener
}

func newTestSite(t *testing.T, id *Identity) *testSite {
	t.Helper()
	s := &testSite{name: id.Self, id: id}
	s.serving.Store(true)
	s.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		s.lastReq = r
		s.mu.Unlock()
		_, _ = io.WriteString(w, "served at "+s.name)
	}))
	t.Cleanup(s.backend.Close)
	s.router = router.New(router.Options{Service: "api"})
	u, _ := url.Parse(s.backend.URL)
	if err := s.router.Set(context.Background(), router.Config{Stable: &router.Backend{Version: "1.0.0", URL: u}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.public = "http://" + pub.Addr().String()
	wg.Go(func() { _ = s.router.Serve(ctx, pub) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.listener = l
	s.peerURL = "https://" + l.Addr().String()
	sl := &router.SiteListener{Self: s.name,
		Router:  func(service string) *router.Router { return map[bool]*router.Router{true: s.router}[service == "api"] },
		Serving: func(string) bool { return s.serving.Load() }}
	wg.Go(func() { _ = sl.Serve(ctx, tls.NewListener(l, id.ServerTLS())) })
	return s
}

func (s *testSite) last() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastReq
}

// route sets the site's routing to a fixed choice.
func (s *testSite) route(t *testing.T, first, next string, peers ...*testSite) {
	t.Helper()
	var ps []router.Peer
	for _, p := range peers {
		u, _ := url.Parse(p.peerURL)
		ps = append(ps, router.Peer{Name: p.name, URL: u, TLS: s.id.ClientTLS(p.name)})
	}
	err := s.router.SetSites(&router.Sites{Self: s.name, Peers: ps, Route: func(netip.Addr) (string, string) { return first, next }})
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, method, u string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "app.example"
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestForwardToPeer: a request the routing sends to a peer is answered
// by the peer's version over mutual TLS, with the original Host, the
// client in X-Forwarded-For and this site's hop marker; the answer names
// the site.
func TestForwardToPeer(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b")
	a, b := newTestSite(t, ids["a"]), newTestSite(t, ids["b"])
	a.route(t, "b", "", b)
	code, body, h := get(t, http.MethodGet, a.public+"/x?y=1")
	if code != 200 || body != "served at b" || h.Get(router.SiteHeader) != "b" || h.Get(router.VersionHeader) != "1.0.0" {
		t.Fatalf("%d %q %v", code, body, h)
	}
	r := b.last()
	if r.Host != "app.example" || r.URL.RequestURI() != "/x?y=1" || r.Header.Get(HopHeader) != "a" || !strings.HasPrefix(r.Header.Get("X-Forwarded-For"), "127.0.0.1") {
		t.Fatalf("request at b: host %q uri %q headers %v", r.Host, r.URL.RequestURI(), r.Header)
	}
	if a.hits.Load() != 0 {
		t.Fatal("a served it too")
	}
	a.route(t, "a", "b", b)
	if _, body, h := get(t, http.MethodGet, a.public+"/"); body != "served at a" || h.Get(router.SiteHeader) != "a" {
		t.Fatalf("local: %q %v", body, h)
	}
}

// TestNoForwardingLoop: two sites that each route to the other serve a
// request at the second, never sending it back.
func TestNoForwardingLoop(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b")
	a, b := newTestSite(t, ids["a"]), newTestSite(t, ids["b"])
	a.route(t, "b", "a", b)
	b.route(t, "a", "b", a)
	for _, s := range []*testSite{a, b} {
		code, body, _ := get(t, http.MethodGet, s.public+"/")
		other := map[*testSite]string{a: "b", b: "a"}[s]
		if code != 200 || body != "served at "+other {
			t.Fatalf("via %s: %d %q", s.name, code, body)
		}
	}
	if a.hits.Load() != 1 || b.hits.Load() != 1 {
		t.Fatalf("hits a %d b %d, want 1 each", a.hits.Load(), b.hits.Load())
	}
}

// TestRetryIdempotentOnNextSite: a GET, HEAD or OPTIONS that cannot
// reach the chosen site goes to the next; a POST is never sent twice.
func TestRetryIdempotentOnNextSite(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b", "c")
	a, b, c := newTestSite(t, ids["a"]), newTestSite(t, ids["b"]), newTestSite(t, ids["c"])
	b.listener.Close() // b is gone: connections are refused
	a.route(t, "b", "c", b, c)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		if code, _, h := get(t, m, a.public+"/"); code != 200 || h.Get(router.SiteHeader) != "c" {
			t.Fatalf("%s: %d from %q, want 200 from c", m, code, h.Get(router.SiteHeader))
		}
	}
	hits := c.hits.Load()
	if code, _, h := get(t, http.MethodPost, a.public+"/"); code != http.StatusBadGateway || h.Get(router.SiteHeader) != "b" || c.hits.Load() != hits {
		t.Fatalf("POST: %d from %q, c hits %d→%d; want 502 naming b, c untouched", code, h.Get(router.SiteHeader), hits, c.hits.Load())
	}
	// This site without its version: a GET goes on to the next site.
	b.listener = nil
	a.backend.Close()
	a.route(t, "a", "c", c)
	if code, _, h := get(t, http.MethodGet, a.public+"/"); code != 200 || h.Get(router.SiteHeader) != "c" {
		t.Fatalf("local version gone: %d from %q", code, h.Get(router.SiteHeader))
	}
}

// TestForwardRefusesPeerOfAnotherCA: a peer listener whose certificate
// is not the site CA's gets no request; a site listener refuses a client
// certificate of another CA.
func TestForwardRefusesPeerOfAnotherCA(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b")
	other := identities(t, t.TempDir(), "b")
	a, impostor := newTestSite(t, ids["a"]), newTestSite(t, other["b"])
	a.route(t, "b", "", impostor)
	if code, _, _ := get(t, http.MethodGet, a.public+"/"); code != http.StatusBadGateway || impostor.hits.Load() != 0 {
		t.Fatalf("impostor: %d, its hits %d", code, impostor.hits.Load())
	}
	genuine := newTestSite(t, ids["b"])
	cfg := other["b"].ClientTLS("b")
	cfg.RootCAs = ids["a"].CAs // trusts the site CA, but is not of it
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	req, _ := http.NewRequest(http.MethodGet, genuine.peerURL+"/", nil)
	req.Header.Set(ServiceHeader, "api")
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("client of another CA answered %s", resp.Status)
	}
	if genuine.hits.Load() != 0 {
		t.Fatal("a request of another CA's client was served")
	}
}

// TestSiteListenerHealth: the health endpoint says whether the site
// serves the service itself.
func TestSiteListenerHealth(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b")
	b := newTestSite(t, ids["b"])
	sites := FromConfig(&config.Sites{Self: "a", Peers: []config.Peer{{Name: "b", URL: b.peerURL, Priority: 2, Weight: 1}}})
	m := NewMonitor("api", nil, sites, ids["a"], nil)
	if err := m.checkers["b"].Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.serving.Store(false)
	if err := m.checkers["b"].Once(context.Background()); err == nil || !strings.Contains(err.Error(), "does not serve api") {
		t.Fatalf("not serving: %v", err)
	}
}

// TestRetrySilentPeer: a GET that a peer takes and never answers (its
// link lost mid-request) goes to the next site after the header timeout.
func TestRetrySilentPeer(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b")
	a := newTestSite(t, ids["a"])
	l, err := tls.Listen("tcp", "127.0.0.1:0", ids["b"].ServerTLS())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }() // reads, never answers
		}
	}()
	u, _ := url.Parse("https://" + l.Addr().String())
	err = a.router.SetSites(&router.Sites{Self: "a", HeaderTimeout: 300 * time.Millisecond,
		Peers: []router.Peer{{Name: "b", URL: u, TLS: ids["a"].ClientTLS("b")}},
		Route: func(netip.Addr) (string, string) { return "b", "a" }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if code, _, h := get(t, http.MethodGet, a.public+"/"); code != 200 || h.Get(router.SiteHeader) != "a" {
			t.Fatalf("GET %d: %d from %q", i, code, h.Get(router.SiteHeader))
		}
	}
}

// TestRetrySilentPooledPeer: GETs waiting on connections to a peer that
// answered before and then went silent go to the next site as soon as
// the peer is found down (SiteDown), not after the header timeout.
func TestRetrySilentPooledPeer(t *testing.T) {
	ids := identities(t, t.TempDir(), "a", "b")
	a := newTestSite(t, ids["a"])
	var silent atomic.Bool
	block := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if silent.Load() {
			<-block
		}
		w.Header().Set(router.SiteHeader, "b")
		_, _ = io.WriteString(w, "b")
	}))
	srv.TLS = ids["b"].ServerTLS()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) }) // before srv.Close, which waits for handlers
	u, _ := url.Parse(srv.URL)
	err := a.router.SetSites(&router.Sites{Self: "a", HeaderTimeout: time.Hour,
		Peers: []router.Peer{{Name: "b", URL: u, TLS: ids["a"].ClientTLS("b")}},
		Route: func(netip.Addr) (string, string) { return "b", "a" }})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, h := get(t, http.MethodGet, a.public+"/"); code != 200 || h.Get(router.SiteHeader) != "b" {
		t.Fatalf("first GET: %d from %q", code, h.Get(router.SiteHeader))
	}
	silent.Store(true)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if code, _, h := get(t, http.MethodGet, a.public+"/"); code != 200 || h.Get(router.SiteHeader) != "a" {
				t.Errorf("GET %d: %d from %q", i, code, h.Get(router.SiteHeader))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			a.router.SiteDown("b") // the monitor's call, until every GET has moved
		}
	}
}
