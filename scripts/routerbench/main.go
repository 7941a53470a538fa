// Command routerbench measures the router of ferry serve against a
// trivial backend on loopback, everything in one process:
//
//	router throughput   closed loop, -c connections for -duration, through
//	                    the router and straight to the backend
//	router p99 added    open loop at -rate requests per second for
//	                    -duration, the p99 latency through the router minus
//	                    the p99 straight to the backend
//	abort to stable     with a canary at 50% under load, the time from
//	                    Set(canary at 0%) until the last request reaches
//	                    the canary (and when Set returned)
//	blue-green switch   with blue serving under load, the time from Set(green
//	                    at 100%) until the last request reaches blue; blue
//	                    is then shut down and green promoted, counting
//	                    failed requests throughout
//
// Timings are reported, never judged: it exits non-zero only when the
// setup fails.
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
	"sync"
	"sync/atomic"
	"time"

	"ferry/rollout/metrics"
	"ferry/rollout/router"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each throughput and latency measurement")
	conns := flag.Int("c", 32, "connections of the throughput measurement and of the load during switches")
	rate := flag.Int("rate", 500, "requests per second of the latency measurement")
	settle := flag.Duration("settle", time.Second, "load before and after each switch")
	flag.Parse()
	if *conns < 1 || *rate < 1 || *duration <= 0 || *settle <= 0 {
		fmt.Fprintln(os.Stderr, "routerbench: -c, -rate, -duration and -settle must be positive")
		os.Exit(2)
	}
	if err := run(context.Background(), *duration, *conns, *rate, *settle); err != nil {
		fmt.Fprintln(os.Stderr, "routerbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, duration time.Duration, conns, rate int, settle time.Duration) error {
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
		<-served
	}()
	routerURL := "http://" + l.Addr().String() + "/"

	// Throughput, closed loop.
	closedLoop(ctx, blue.url, conns, duration/5) // warm-up
	direct := closedLoop(ctx, blue.url, conns, duration)
	closedLoop(ctx, routerURL, conns, duration/5)
	proxied := closedLoop(ctx, routerURL, conns, duration)
	if direct.failed+proxied.failed > 0 {
		return fmt.Errorf("throughput: %d direct and %d routed requests failed", direct.failed, proxied.failed)
	}
	fmt.Printf("router throughput  %.0f req/s vs direct %.0f req/s  ratio %.2f×  (%d connections, %v each)\n",
		proxied.perSecond(), direct.perSecond(), proxied.perSecond()/direct.perSecond(), conns, duration)

	// Latency, open loop at a moderate rate.
	directLat, err := openLoop(ctx, blue.url, rate, duration)
	if err != nil {
		return fmt.Errorf("latency straight to the backend: %w", err)
	}
	routedLat, err := openLoop(ctx, routerURL, rate, duration)
	if err != nil {
		return fmt.Errorf("latency through the router: %w", err)
	}
	d99, r99 := percentile(directLat, 0.99), percentile(routedLat, 0.99)
	fmt.Printf("router p99 added   %d µs  (p99 %d µs vs direct %d µs; p50 %d µs vs %d µs; %d req/s for %v)\n",
		(r99 - d99).Microseconds(), r99.Microseconds(), d99.Microseconds(),
		percentile(routedLat, 0.5).Microseconds(), percentile(directLat, 0.5).Microseconds(), rate, duration)

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

func closedLoop(ctx context.Context, url string, conns int, d time.Duration) counts {
	l := startLoad(ctx, url, conns)
	time.Sleep(d)
	return l.stop()
}

// openLoop sends rate requests per second for d, each on its own schedule
// whether or not the ones before have been answered, and returns their
// latencies.
func openLoop(ctx context.Context, url string, rate int, d time.Duration) ([]time.Duration, error) {
	c := newClient(256)
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			t := time.Now()
			errs[i] = fetch(ctx, c, url)
			lat[i] = time.Since(t)
		})
	}
	wg.Wait()
	c.CloseIdleConnections()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return lat, nil
}

func percentile(lat []time.Duration, q float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(int(q*float64(len(s))), len(s)-1)]
}
