package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"ferry/rollout/metrics"
)

// testBackend is a real HTTP server standing for one version of the
// service. It counts the requests that reach it.
type testBackend struct {
	*httptest.Server
	version string
	hits    atomic.Int64
	metrics *metrics.Recorder
}

// newBackend starts a backend answering 200 with its version as the body;
// handler, if given, answers instead (after the request is counted).
func newBackend(t *testing.T, version string, handler http.HandlerFunc) *testBackend {
	t.Helper()
	b := &testBackend{version: version, metrics: metrics.NewRecorder("api", version)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if handler != nil {
			handler(w, r)
			return
		}
		_, _ = io.WriteString(w, version)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *testBackend) backend() *Backend {
	u, err := url.Parse(b.URL)
	if err != nil {
		panic(err)
	}
	return &Backend{Version: b.version, URL: u, Metrics: b.metrics}
}

// routerServer is where a test's router serves.
type routerServer struct{ URL string }

// newRouter returns a Router serving on a loopback port until the test
// ends.
func newRouter(t *testing.T, opts Options) (*Router, routerServer) {
	t.Helper()
	if opts.Service == "" {
		opts.Service = "api"
	}
	r := New(opts)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("router Serve: %v", err)
		}
	})
	return r, routerServer{URL: "http://" + l.Addr().String()}
}

func mustSet(t *testing.T, r *Router, cfg Config) {
	t.Helper()
	if err := r.Set(t.Context(), cfg); err != nil {
		t.Fatalf("Set: %v", err)
	}
}

// newClient returns a client with its own keep-alive pool, large enough
// for the load tests' workers.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get sends one request and returns the version that answered (see fetch).
func get(t *testing.T, c *http.Client, req *http.Request) (string, *http.Response) {
	t.Helper()
	v, resp, err := fetch(c, req)
	if err != nil {
		t.Fatal(err)
	}
	return v, resp
}

// fetch sends one request and returns the version that answered. A status
// other than 200, or an X-Ferry-Version that does not name the backend
// whose body came back, is an error. Safe to call from any goroutine.
func fetch(c *http.Client, req *http.Request) (string, *http.Response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", req.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL, resp.Status, body)
	}
	if v := resp.Header.Get(VersionHeader); v != string(body) {
		return "", nil, fmt.Errorf("%s says %q but the body came from %q", VersionHeader, v, body)
	}
	return string(body), resp, nil
}

func newRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
