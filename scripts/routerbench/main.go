// Command routerbench measures the router of ferry serve against a
// backend on loopback:
//
//	router throughput   closed loop, -c connections for -duration, through
//	                    the router and straight to the backend: once with a
//	                    trivial backend, then with backends doing each
//	                    of the -work amounts of CPU work per request, and
//	                    the least of those amounts at which the router
//	                    keeps the throughput target
//	                    (rawload.go: plain keep-alive GETs, cheap enough
//	                    that the backend, not the load generator, sets
//	                    the direct pace)
//	router CPU          the router process's CPU time per request, the
//	                    trivial backend's and the load generator's
//	haproxy reference   the same throughput with HAProxy in the router's
//	                    place, when installed
//	relay reference     the same with a TCP relay that parses nothing in
//	                    the router's place: what the extra hop alone costs
//	router memory       the router's resident memory per idle kept-alive
//	                    client connection, with 500 of them open
//	router p99 added    open loop at -rate requests per second for
//	                    -duration, the p99 latency through the router minus
//	                    the p99 straight to the trivial backend
//
// For these the router and the backend are processes of their own, and on
// a machine of two CPUs or more the load generator (this process) is
// pinned apart from them (see procs.go). The switches run in this process:
//
//	abort to stable     with a canary at 50% under load, the time from
//	                    Set(canary at 0%) until the last request reaches
//	                    the canary (and when Set returned)
//	blue-green switch   with blue serving under load, the time from Set(green
//	                    at 100%) until the last request reaches blue; blue
//	                    is then shut down and green promoted, counting
//	                    failed requests throughout
//
// The targets are judged on the last lines, "ok" or "MISSED"; a
// missed target does not change the exit status, which is non-zero only
// when the setup fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"ferry/rollout/metrics"
	"ferry/rollout/router"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each throughput and latency measurement")
	conns := flag.Int("c", 32, "connections of the throughput measurement and of the load during switches")
	rate := flag.Int("rate", 500, "requests per second of the latency measurement")
	settle := flag.Duration("settle", time.Second, "load before and after each switch")
	work := flag.String("work", "100µs,300µs,1ms", "CPU work per request of the backends after the trivial one, comma-separated")
	role := flag.String("role", "", "internal: run as the backend or router process")
	cpus := flag.String("cpus", "", "internal: CPUs of the -role process")
	backendURL := flag.String("backend", "", "internal: the backend of -role router")
	flag.Parse()
	works, err := parseWorks(*work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "routerbench:", err)
		os.Exit(2)
	}
	if *role != "" {
		var w time.Duration
		if *role == "backend" {
			if len(works) != 1 {
				fmt.Fprintln(os.Stderr, "routerbench: -role backend takes one -work")
				os.Exit(2)
			}
			w = works[0]
		}
		if err := runChild(*role, *cpus, *backendURL, w); err != nil {
			fmt.Fprintf(os.Stderr, "routerbench -role %s: %v\n", *role, err)
			os.Exit(1)
		}
		return
	}
	if len(works) > 0 && works[0] == 0 {
		fmt.Fprintln(os.Stderr, "routerbench: -work amounts must be more than zero (the trivial backend is always measured)")
		os.Exit(2)
	}
	if *conns < 1 || *rate < 1 || *duration <= 0 || *settle <= 0 {
		fmt.Fprintln(os.Stderr, "routerbench: -c, -rate, -duration and -settle must be positive")
		os.Exit(2)
	}
	var judged targets
	if err := measureProxying(context.Background(), *duration, *conns, *rate, works, &judged); err != nil {
		fmt.Fprintln(os.Stderr, "routerbench:", err)
		os.Exit(1)
	}
	if err := run(context.Background(), *duration, *conns, *settle, &judged); err != nil {
		fmt.Fprintln(os.Stderr, "routerbench:", err)
		os.Exit(1)
	}
	judged.print(os.Stdout)
}

// measureProxying measures throughput, the router's CPU per request and
// added latency with the backend and router as processes of their own.
func measureProxying(ctx context.Context, duration time.Duration, conns, rate int, works []time.Duration, judged *targets) error {
	lay := planLayout()
	if err := pinSelf(lay.load); err != nil {
		return err
	}
	sampler, err := metrics.NewSampler("")
	if err != nil {
		return err
	}
	fmt.Printf("layout             %s\n", lay)
	// keeps is the least work at which the router kept the target.
	keeps := time.Duration(-1)
	for _, w := range append([]time.Duration{0}, works...) {
		backend, err := startChild("backend", lay.appliance, "-work", w.String())
		if err != nil {
			return err
		}
		defer backend.stop()
		proxy, err := startChild("router", lay.appliance, "-backend", backend.url)
		if err != nil {
			return err
		}
		defer proxy.stop()
		direct := &contender{name: "direct", c: backend}
		router := &contender{name: "router", c: proxy}
		others := []*contender{router}
		var haproxy, relay *contender
		if w == 0 {
			if haproxy, err = startReference(lay, backend.url); err != nil {
				return err
			}
			if haproxy != nil {
				defer haproxy.c.stop()
				others = append(others, haproxy)
			}
			r, err := startChild("relay", lay.appliance, "-backend", backend.url)
			if err != nil {
				return err
			}
			defer r.stop()
			relay = &contender{name: "relay", c: r}
			others = append(others, relay)
		}
		if err := measureThroughput(ctx, sampler, direct, others, conns, duration); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
		what := "trivial backend"
		if w > 0 {
			what = fmt.Sprintf("backend doing %v of CPU work per request", w)
		}
		fmt.Printf("router throughput  %.0f req/s vs direct %.0f req/s  ratio %.2f×  (%s; %d connections; median of %d rounds of %v: %s)\n",
			router.n.perSecond(), direct.n.perSecond(), router.ratio(), what, conns, throughputRounds, duration, router.rounds())
		if w > 0 {
			if keeps < 0 && router.ratio() >= throughputTarget {
				keeps = w
			}
			continue
		}
		judged.add(fmt.Sprintf("throughput >= %.2fx direct (trivial backend)", throughputTarget), fmt.Sprintf("%.2fx", router.ratio()), router.ratio() >= throughputTarget)
		fmt.Printf("router CPU         %.0f µs per request  (the trivial backend: %.0f µs per request; the load generator: %.0f µs)\n",
			router.cpuPerRequest(), direct.cpuPerRequest(), perRequest(direct.loadCPU, direct.n.ok))
		idle, err := idleMemory(proxy, sampler, idleConns)
		if err != nil {
			return fmt.Errorf("router memory: %w", err)
		}
		fmt.Printf("router memory      %.1f KiB per idle kept-alive client connection  (%d connections)\n", idle, idleConns)
		if haproxy == nil {
			fmt.Printf("haproxy reference  not installed (%s)\n", haproxyPath)
		} else {
			idle, err := idleMemory(haproxy.c, sampler, idleConns)
			if err != nil {
				return fmt.Errorf("haproxy reference memory: %w", err)
			}
			fmt.Printf("haproxy reference  %.0f req/s  ratio %.2f×  (HAProxy in the router's place; rounds %s; %.0f µs CPU per request, %.1f KiB per idle connection)\n",
				haproxy.n.perSecond(), haproxy.ratio(), haproxy.rounds(), haproxy.cpuPerRequest(), idle)
		}
		fmt.Printf("relay reference    %.0f req/s  ratio %.2f×  (a TCP relay that parses nothing in the router's place; rounds %s; %.0f µs CPU per request)\n",
			relay.n.perSecond(), relay.ratio(), relay.rounds(), relay.cpuPerRequest())

		// Rounds, so that one stall of the machine (it shares its host)
		// shows as one round out of line rather than as the figure.
		var added []time.Duration
		var rounds []string
		var mid [2][]time.Duration
		for range latencyRounds {
			directLat, routedLat, err := openLoop(ctx, backend.url, proxy.url, rate, duration)
			if err != nil {
				return fmt.Errorf("latency: %w", err)
			}
			d99, r99 := percentile(directLat, 0.99), percentile(routedLat, 0.99)
			added = append(added, r99-d99)
			rounds = append(rounds, fmt.Sprintf("%d (%d vs %d)", (r99-d99).Microseconds(), r99.Microseconds(), d99.Microseconds()))
			mid[0], mid[1] = append(mid[0], directLat...), append(mid[1], routedLat...)
		}
		fmt.Printf("router p99 added   %d µs  (median of %d rounds of %v at %d req/s; p50 %d µs vs direct %d µs)\n",
			percentile(added, 0.5).Microseconds(), latencyRounds, duration, rate,
			percentile(mid[1], 0.5).Microseconds(), percentile(mid[0], 0.5).Microseconds())
		fmt.Printf("  rounds           p99 added µs (routed vs direct): %s\n", strings.Join(rounds, ", "))
		p99 := percentile(added, 0.5)
		judged.add(fmt.Sprintf("added p99 <= %v", addedP99Target), fmt.Sprintf("%d µs", p99.Microseconds()), p99 <= addedP99Target)
	}
	switch {
	case len(works) == 0:
	case keeps < 0:
		fmt.Printf("router keeps %.2f×  with none of the backends measured (up to %v of CPU work per request)\n", throughputTarget, works[len(works)-1])
	default:
		fmt.Printf("router keeps %.2f×  from %v of CPU work per request in the backend (the least of the amounts measured at which it did)\n", throughputTarget, keeps)
	}
	return nil
}

// measureLoop warms c up, then runs a closed loop against it for
// duration and returns what the loop counted and the CPU time c and this
// process (the load generator) used meanwhile.
func measureLoop(ctx context.Context, c *child, sampler *metrics.Sampler, conns int, duration time.Duration) (n counts, cpu, loadCPU time.Duration, err error) {
	if _, err := rawLoop(ctx, c.url, conns, duration/5); err != nil {
		return counts{}, 0, 0, err
	}
	before, err := ownCPU()
	if err != nil {
		return counts{}, 0, 0, err
	}
	childBefore, err := c.cpuTime(sampler)
	if err != nil {
		return counts{}, 0, 0, err
	}
	if n, err = rawLoop(ctx, c.url, conns, duration); err != nil {
		return counts{}, 0, 0, err
	}
	childAfter, err := c.cpuTime(sampler)
	if err != nil {
		return counts{}, 0, 0, err
	}
	after, err := ownCPU()
	return n, childAfter - childBefore, after - before, err
}

// ownCPU is the user and system time of this process alone (the
// sampler's figure for a process includes its descendants, the router
// and backend among them).
func ownCPU() (time.Duration, error) {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0, err
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()), nil
}

// latencyRounds is how many times the latency measurement runs.
const latencyRounds = 5

func perRequest(cpu time.Duration, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(requests)
}

// run measures the switches, in this process: the router's Set against
// two in-process backends under load.
func run(ctx context.Context, duration time.Duration, conns int, settle time.Duration, judged *targets) (err error) {
	blue, err := startBackend("1.0.0")
	if err != nil {
		return err
	}
	defer blue.stop()
	green, err := startBackend("2.0.0")
	if err != nil {
		return err
	}
	defer green.stop()

	r := router.New(router.Options{Service: "bench"})
	if err := r.Set(ctx, router.Config{Stable: blue.backend}); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- r.Serve(serveCtx, l) }()
	defer func() {
		stopServing()
		if serr := <-served; serr != nil && err == nil {
			err = fmt.Errorf("router: %w", serr)
		}
	}()
	routerURL := "http://" + l.Addr().String() + "/"

	// Abort: canary at 50% under load, then Set(0%).
	if err := r.Set(ctx, router.Config{Stable: blue.backend, Canary: green.backend, CanaryWeight: 50}); err != nil {
		return err
	}
	load := startLoad(ctx, routerURL, conns)
	time.Sleep(settle)
	abortAt := time.Now()
	if err := r.Set(ctx, router.Config{Stable: blue.backend, Canary: green.backend, CanaryWeight: 0}); err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	setTook := time.Since(abortAt)
	atReturn := green.hits.Load()
	time.Sleep(settle)
	after := green.hits.Load() - atReturn
	aborted := load.stop()
	fmt.Printf("abort to stable    %.2f ms  (Set returned after %.2f ms; %d requests reached the canary after that; failed requests %d of %d)\n",
		ms(green.lastSince(abortAt)), ms(setTook), after, aborted.failed, aborted.ok+aborted.failed)
	abortTook := green.lastSince(abortAt)
	judged.add(fmt.Sprintf("abort to stable <= %v", switchTarget), fmt.Sprintf("%.2f ms", ms(abortTook)), abortTook <= switchTarget && after == 0)

	// Blue-green: green warmed up at 0%, switched to 100%, blue shut down,
	// green promoted to stable.
	if err := r.Set(ctx, router.Config{Stable: blue.backend, Canary: green.backend, CanaryWeight: 0}); err != nil {
		return err
	}
	load = startLoad(ctx, routerURL, conns)
	time.Sleep(settle)
	switchAt := time.Now()
	if err := r.Set(ctx, router.Config{Stable: blue.backend, Canary: green.backend, CanaryWeight: 100}); err != nil {
		return fmt.Errorf("blue-green switch: %w", err)
	}
	switchTook := time.Since(switchAt)
	blueAtReturn := blue.hits.Load()
	blue.stop()
	if err := r.Set(ctx, router.Config{Stable: green.backend}); err != nil {
		return fmt.Errorf("promote green: %w", err)
	}
	time.Sleep(settle)
	switched := load.stop()
	fmt.Printf("blue-green switch  %.2f ms, failed requests %d  (Set returned after %.2f ms; blue then shut down; %d requests to blue after Set returned; %d requests in all)\n",
		ms(blue.lastSince(switchAt)), switched.failed, ms(switchTook), blue.hits.Load()-blueAtReturn, switched.ok+switched.failed)
	switchDone := blue.lastSince(switchAt)
	judged.add(fmt.Sprintf("blue-green switch <= %v, 0 failed", switchTarget), fmt.Sprintf("%.2f ms, %d", ms(switchDone), switched.failed), switchDone <= switchTarget && switched.failed == 0)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// backend is a trivial HTTP server that remembers when the last request
// reached it.
type backend struct {
	srv     *http.Server
	url     string
	backend *router.Backend
	hits    atomic.Int64
	last    atomic.Int64 // UnixNano of the last request's arrival
	stopped sync.Once
}

func startBackend(version string) (*backend, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{url: "http://" + l.Addr().String() + "/"}
	u, _ := url.Parse(b.url)
	b.backend = &router.Backend{Version: version, URL: u, Metrics: metrics.NewRecorder("bench", version)}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.last.Store(time.Now().UnixNano())
		_, _ = io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

// lastSince returns how long after t the last request reached b; 0 if
// none did.
func (b *backend) lastSince(t time.Time) time.Duration {
	return max(time.Unix(0, b.last.Load()).Sub(t), 0)
}

func (b *backend) stop() {
	b.stopped.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.srv.Shutdown(ctx)
	})
}

func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
	}, Timeout: 30 * time.Second}
}

// fetch sends one GET and reads the body; any status but 200 is an error.
func fetch(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

type counts struct {
	ok, failed int64
	took       time.Duration
}

func (c counts) perSecond() float64 { return float64(c.ok) / c.took.Seconds() }

// running is a closed-loop load in progress.
type running struct {
	cancel     context.CancelFunc
	client     *http.Client
	wg         sync.WaitGroup
	ok, failed atomic.Int64
	start      time.Time
}

// startLoad starts conns workers sending requests to url back to back.
func startLoad(ctx context.Context, url string, conns int) *running {
	ctx, cancel := context.WithCancel(ctx)
	c := newClient(conns)
	l := &running{cancel: cancel, client: c, start: time.Now()}
	for range conns {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				if err := fetch(ctx, c, url); err != nil {
					if ctx.Err() == nil {
						l.failed.Add(1)
					}
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	return l
}

func (l *running) stop() counts {
	took := time.Since(l.start)
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
	return counts{ok: l.ok.Load(), failed: l.failed.Load(), took: took}
}

// openLoop sends rate requests per second for d to each of two URLs, in
// turns, each on its own schedule whether or not the ones before have been
// answered, and returns the latencies of each. Taking turns puts both
// under the same conditions: a stall of the machine hits both alike
// instead of whichever happened to run during it.
func openLoop(ctx context.Context, urlA, urlB string, rate int, d time.Duration) (a, b []time.Duration, err error) {
	c := newClient(256)
	interval := time.Second / time.Duration(2*rate)
	n := 2 * int(d/(time.Second/time.Duration(rate)))
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		url := urlA
		if i%2 == 1 {
			url = urlB
		}
		wg.Go(func() {
			t := time.Now()
			errs[i] = fetch(ctx, c, url)
			lat[i] = time.Since(t)
		})
	}
	wg.Wait()
	c.CloseIdleConnections()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	for i, l := range lat {
		if i%2 == 0 {
			a = append(a, l)
		} else {
			b = append(b, l)
		}
	}
	return a, b, nil
}

func percentile(lat []time.Duration, q float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

// parseWorks reads -work: durations separated by commas, in increasing
// order, none negative (a backend child is given 0s for the trivial one).
func parseWorks(s string) ([]time.Duration, error) {
	var works []time.Duration
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		w, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("-work %q: %w", s, err)
		}
		if w < 0 || (len(works) > 0 && w <= works[len(works)-1]) {
			return nil, fmt.Errorf("-work %q: amounts must not be negative and must increase", s)
		}
		works = append(works, w)
	}
	return works, nil
}
