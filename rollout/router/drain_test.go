package router

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry/fixtures"
)

// load keeps workers sending requests to url until stopped, and counts
// those that did not get a 200 from a backend.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok       atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	firstErr error
}

func startLoad(t *testing.T, url string, workers int) *load {
	t.Helper()
	l := &load{stop: make(chan struct{})}
	c := newClient(t)
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, err := http.NewRequest(http.MethodGet, url, nil)
				if err != nil {
					panic(err)
				}
				if _, _, err := fetch(c, req); err != nil {
					l.failures.Add(1)
					l.mu.Lock()
					if l.firstErr == nil {
						l.firstErr = err
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	t.Cleanup(l.end)
	return l
}

// end stops the workers and waits for them.
func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func (l *load) check(t *testing.T) {
	t.Helper()
	l.end()
	if n := l.failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; the first: %v", n, n+l.ok.Load(), l.firstErr)
	}
	if l.ok.Load() == 0 {
		t.Error("no request succeeded")
	}
}

// waitHits waits until b has seen n more requests than it had.
func waitHits(t *testing.T, b *testBackend, n int64) {
	t.Helper()
	want := b.hits.Load() + n
	fixtures.WaitFor(t, fmt.Sprintf("%d requests at %s", n, b.version), func() bool { return b.hits.Load() >= want })
}

// TestSetUnderLoad changes the routing over and over under concurrent
// requests: canaries come, take 10, 50, 100 and 30 percent, and go; each
// one's server is shut down as soon as Set has taken its traffic away.
// Not one request may fail.
func TestSetUnderLoad(t *testing.T) {
	stable := newBackend(t, "1.4.0", nil)
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: stable.backend()})
	l := startLoad(t, srv.URL, 4)

	for round := range 15 {
		canary := newBackend(t, fmt.Sprintf("1.5.%d", round), nil)
		for _, w := range []int{10, 50, 100, 30} {
			mustSet(t, r, Config{Stable: stable.backend(), Canary: canary.backend(), CanaryWeight: w})
			waitHits(t, canary, 3)
			if w == 100 {
				// Set has drained the stable version: nothing more
				// reaches it until it gets a weight again.
				before := stable.hits.Load()
				waitHits(t, canary, 20)
				if after := stable.hits.Load(); after != before {
					t.Fatalf("round %d: %d requests reached the stable version at canary weight 100", round, after-before)
				}
			}
		}
		mustSet(t, r, Config{Stable: stable.backend()})
		canary.Close() // any request routed to it from now on would fail
		waitHits(t, stable, 10)
	}
	l.check(t)
	r.mu.RLock()
	n := len(r.targets)
	r.mu.RUnlock()
	if n != 1 {
		t.Errorf("the router still keeps %d backends, want only the stable one", n)
	}
}

// TestAbortNoNewRequests checks the promise the rollout's abort relies
// on: once Set returns with the canary at weight 0 or removed, no request
// reaches the canary.
func TestAbortNoNewRequests(t *testing.T) {
	for _, abort := range []struct {
		name string
		cfg  func(stable, canary *Backend) Config
	}{
		{"weight 0", func(s, c *Backend) Config { return Config{Stable: s, Canary: c, CanaryWeight: 0} }},
		{"no canary", func(s, c *Backend) Config { return Config{Stable: s} }},
	} {
		t.Run(abort.name, func(t *testing.T) {
			stable := newBackend(t, "1.4.0", nil)
			// A slow canary, so that requests are in flight to it when
			// the abort comes.
			canary := newBackend(t, "1.5.0", func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(2 * time.Millisecond)
				_, _ = w.Write([]byte("1.5.0"))
			})
			r, srv := newRouter(t, Options{})
			mustSet(t, r, Config{Stable: stable.backend(), Canary: canary.backend(), CanaryWeight: 50})
			l := startLoad(t, srv.URL, 6)
			waitHits(t, canary, 50)

			mustSet(t, r, abort.cfg(stable.backend(), canary.backend()))
			atAbort := canary.hits.Load()
			if n := r.InFlight("1.5.0"); n != 0 {
				t.Errorf("%d requests in flight to the canary after Set returned", n)
			}
			waitHits(t, stable, 300)
			if after := canary.hits.Load(); after != atAbort {
				t.Errorf("%d requests reached the canary after Set returned", after-atAbort)
			}
			l.check(t)
		})
	}
}
