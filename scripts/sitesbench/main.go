// Command sitesbench measures routing across sites on loopback, with the
// packages ferry serve uses (rollout/router, rollout/sites):
//
//	failover time     two sites; clients send GETs to the secondary's
//	                  router, which forwards them to the primary over
//	                  mutual TLS while it is healthy. A relay in front of
//	                  the primary's site listener then drops everything
//	                  silently (a lost link, not a refused connection):
//	                  the time from that moment until the secondary's
//	                  monitor sends traffic to itself, with a 1 s probe
//	                  interval and 2 failures; also the longest a GET in
//	                  flight at the loss waited, and how many failed
//	cross-site hop    open loop at -rate GETs per second for -duration
//	                  (three alternating rounds, the median of each),
//	                  the p99 through a router that forwards every request
//	                  to the peer site over mutual TLS, against the p99
//	                  straight to the peer site's own router (measured,
//	                  without a target)
//
// The targets are judged on the last lines, "ok" or "MISSED"; a missed
// target does not change the exit status.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"ferry/bundle/spec"
	"ferry/config"
	"ferry/rollout/router"
	"ferry/rollout/sites"
)

const failoverTarget = 3 * time.Second

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of the latency measurement")
	rate := flag.Int("rate", 200, "GETs per second of the latency measurement")
	flag.Parse()
	if err := run(*duration, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "sitesbench:", err)
		os.Exit(1)
	}
}

// site is one site in this process: a backend, its router on a public
// port and its listener for peers.
type site struct {
	name     string
	router   *router.Router
	public   string
	listener string // host:port of the site listener
	id       *sites.Identity
}

func startSite(ctx context.Context, id *sites.Identity) (*site, error) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	go func() { <-ctx.Done(); backend.Close() }()
	u, _ := url.Parse(backend.URL)
	s := &site{name: id.Self, id: id, router: router.New(router.Options{Service: "api"})}
	if err := s.router.Set(ctx, router.Config{Stable: &router.Backend{Version: "1.0.0", URL: u}}); err != nil {
		return nil, err
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.public = "http://" + pub.Addr().String()
	go func() { _ = s.router.Serve(ctx, pub) }()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.listener = l.Addr().String()
	sl := &router.SiteListener{Self: s.name, Router: func(string) *router.Router { return s.router }, Serving: func(string) bool { return true }}
	go func() { _ = sl.Serve(ctx, tls.NewListener(l, id.ServerTLS())) }()
	return s, nil
}

func run(duration time.Duration, rate int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "sitesbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := sites.MakeCerts(dir, []string{"primary", "secondary"}); err != nil {
		return err
	}
	ids := map[string]*sites.Identity{}
	for _, n := range []string{"primary", "secondary"} {
		if ids[n], err = sites.LoadIdentity(dir, n); err != nil {
			return err
		}
	}
	primary, err := startSite(ctx, ids["primary"])
	if err != nil {
		return err
	}
	secondary, err := startSite(ctx, ids["secondary"])
	if err != nil {
		return err
	}
	var t targets

	// Failover.
	link, err := newRelay(ctx, primary.listener)
	if err != nil {
		return err
	}
	cfg := &config.Sites{Self: "secondary", Priority: 2, Peers: []config.Peer{{Name: "primary", URL: "https://" + link.addr, Priority: 1, Weight: 1}}}
	routing := &spec.Routing{Health: &spec.SiteHealth{Interval: spec.Duration(time.Second), Failures: 2, Successes: 3}}
	m := sites.NewMonitor("api", routing, sites.FromConfig(cfg), ids["secondary"], nil)
	m.SetLocal(true, "bench")
	m.OnSiteDown = secondary.router.SiteDown
	u, _ := url.Parse("https://" + link.addr)
	if err := secondary.router.SetSites(&router.Sites{Self: "secondary", Route: m.Route, HeaderTimeout: 10 * time.Second, DialTimeout: 3 * time.Second,
		Peers: []router.Peer{{Name: "primary", URL: u, TLS: ids["secondary"].ClientTLS("primary")}}}); err != nil {
		return err
	}
	go m.Run(ctx)
	if err := waitActive(m, "primary", 30*time.Second); err != nil {
		return err
	}
	load := startLoad(ctx, secondary.public, 8)
	time.Sleep(time.Second)
	lost := time.Now()
	link.drop()
	if err := waitActive(m, "secondary", 30*time.Second); err != nil {
		return err
	}
	failover := time.Since(lost)
	time.Sleep(2 * time.Second)
	longest, failed, total := load.stop(lost)
	fmt.Printf("failover, 1s interval, 2 failures       %8.2fs from the primary's loss to traffic on the secondary\n", failover.Seconds())
	fmt.Printf("  GETs in flight at the loss            %8.2fs the longest wait; %d of %d GETs failed\n", longest.Seconds(), failed, total)
	t.add("failover time (1s interval, 2 failures)", fmt.Sprintf("%.2fs", failover.Seconds()), failover <= failoverTarget)
	t.add("GETs failed during the failover", fmt.Sprint(failed), failed == 0)

	// Cross-site hop.
	hop := router.New(router.Options{Service: "api"})
	pu, _ := url.Parse("https://" + primary.listener)
	if err := hop.SetSites(&router.Sites{Self: "secondary", Route: func(netip.Addr) (string, string) { return "primary", "" },
		Peers: []router.Peer{{Name: "primary", URL: pu, TLS: ids["secondary"].ClientTLS("primary")}}}); err != nil {
		return err
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = hop.Serve(ctx, hl) }()
	// Alternating rounds, each figure their median: the machine's other
	// load moves a single round's p99 more than the hop does.
	var directs, vias []time.Duration
	for range 3 {
		d, err := openLoop(primary.public, rate, duration/3)
		if err != nil {
			return err
		}
		v, err := openLoop("http://"+hl.Addr().String(), rate, duration/3)
		if err != nil {
			return err
		}
		directs, vias = append(directs, d), append(vias, v)
	}
	slices.Sort(directs)
	slices.Sort(vias)
	direct, via := directs[1], vias[1]
	added := via - direct
	fmt.Printf("cross-site hop, %d GETs/s              p99 %v through the peer hop, %v straight to the site: %v added\n", rate, via.Round(time.Microsecond), direct.Round(time.Microsecond), added.Round(time.Microsecond))
	fmt.Println()
	t.print(os.Stdout)
	return nil
}

func waitActive(m *sites.Monitor, site string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m.Status().Active == site {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("traffic did not move to %s within %v: %+v", site, within, m.Status())
}

// loadGen sends GETs in a closed loop and records each one.
type loadGen struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	reqs   []request
}

type request struct {
	start, end time.Time
	err        bool
}

func startLoad(ctx context.Context, u string, workers int) *loadGen {
	ctx, cancel := context.WithCancel(ctx)
	g := &loadGen{cancel: cancel}
	c := &http.Client{Timeout: 30 * time.Second}
	for range workers {
		g.wg.Go(func() {
			for ctx.Err() == nil {
				r := request{start: time.Now()}
				resp, err := c.Get(u)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					r.err = resp.StatusCode != http.StatusOK
				} else {
					r.err = true
				}
				r.end = time.Now()
				g.mu.Lock()
				g.reqs = append(g.reqs, r)
				g.mu.Unlock()
			}
		})
	}
	return g
}

// stop ends the load and returns the longest wait of a request in flight
// at lost, and the failed and total requests.
func (g *loadGen) stop(lost time.Time) (longest time.Duration, failed, total int) {
	g.cancel()
	g.wg.Wait()
	for _, r := range g.reqs {
		if r.err {
			failed++
		}
		if r.start.Before(lost) && r.end.After(lost) {
			longest = max(longest, r.end.Sub(r.start))
		}
	}
	return longest, failed, len(g.reqs)
}

// openLoop sends rate GETs a second to u for d and returns the p99.
func openLoop(u string, rate int, d time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		<-tick.C
		wg.Go(func() {
			start := time.Now()
			resp, err := c.Get(u)
			if err != nil {
				errs.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			lat = append(lat, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(lat) == 0 || errs.Load() > 0 {
		return 0, fmt.Errorf("%s: %d of %d GETs failed", u, errs.Load(), int64(len(lat))+errs.Load())
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100], nil
}

// relay passes TCP to target until drop, after which it holds every
// connection, old and new, and passes nothing: a lost link.
type relay struct {
	addr    string
	target  string
	dropped atomic.Bool
}

func newRelay(ctx context.Context, target string) (*relay, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{addr: l.Addr().String(), target: target}
	go func() { <-ctx.Done(); l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r, nil
}

func (r *relay) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { r.pipe(up, c); done <- struct{}{} }()
	go func() { r.pipe(c, up); done <- struct{}{} }()
	<-done
}

func (r *relay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if r.dropped.Load() {
			// Swallowed: the connection stays open and silent.
			if err != nil {
				return
			}
			continue
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) drop() { r.dropped.Store(true) }

// targets collects the judged figures of a run, printed at its end.
type targets []struct {
	what, figure string
	ok           bool
}

func (t *targets) add(what, figure string, ok bool) {
	*t = append(*t, struct {
		what, figure string
		ok           bool
	}{what, figure, ok})
}

func (t targets) print(w io.Writer) {
	fmt.Fprintln(w, "targets")
	for _, x := range t {
		verdict := "ok"
		if !x.ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "  %-46s %12s  %s\n", x.what, x.figure, verdict)
	}
}
