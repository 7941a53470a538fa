package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flipServer is a real HTTP backend whose /healthz answers with the status
// the test sets.
type flipServer struct {
	*httptest.Server
	status atomic.Int32
}

func newFlipServer(t *testing.T, status int) *flipServer {
	t.Helper()
	s := &flipServer{}
	s.status.Store(int32(status))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write([]byte("database unreachable"))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *flipServer) probe(t *testing.T) *HTTP {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewHTTP(u, "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHysteresis drives a Checker check by check against a real server and
// watches where its state flips.
func TestHysteresis(t *testing.T) {
	srv := newFlipServer(t, http.StatusOK)
	var changes []bool
	c := NewChecker(srv.probe(t), Options{
		FailureThreshold: 3,
		SuccessThreshold: 2,
		OnChange:         func(s Status) { changes = append(changes, s.Healthy) },
	})
	steps := []struct {
		status  int
		healthy bool
	}{
		{200, false}, // a new backend needs two passes
		{200, true},
		{503, true}, // one or two failures are noise
		{503, true},
		{200, true}, // and a pass resets the count
		{503, true},
		{503, true},
		{503, false}, // the third in a row counts
		{200, false},
		{503, false},
		{200, false},
		{200, true},
	}
	for i, step := range steps {
		srv.status.Store(int32(step.status))
		err := c.Once(t.Context())
		if (err == nil) != (step.status == 200) {
			t.Fatalf("step %d: check with status %d returned %v", i, step.status, err)
		}
		if got := c.Healthy(); got != step.healthy {
			t.Fatalf("step %d: healthy = %v after a %d, want %v (status %+v)", i, got, step.status, step.healthy, c.Status())
		}
	}
	if want := []bool{true, false, true}; len(changes) != len(want) || changes[0] != want[0] || changes[1] != want[1] || changes[2] != want[2] {
		t.Errorf("OnChange saw %v, want %v", changes, want)
	}
	st := c.Status()
	if st.Checks != len(steps) || st.Streak != 2 || st.LastErr != nil || st.LastCheck.IsZero() {
		t.Errorf("status %+v, want %d checks, a streak of 2 passes", st, len(steps))
	}
}

func TestHTTPProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "migrations pending", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/app/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("full") != "1" {
			http.Error(w, "no query", http.StatusBadRequest)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base, _ := url.Parse(srv.URL)

	check := func(b *url.URL, path string) error {
		t.Helper()
		p, err := NewHTTP(b, path)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		return p.Check(ctx)
	}
	if err := check(base, "/ok"); err != nil {
		t.Errorf("204: %v", err)
	}
	if err := check(base.JoinPath("app"), "healthz?full=1"); err != nil {
		t.Errorf("path under the base URL with a query: %v", err)
	}
	var failure *Failure
	if err := check(base, "/moved"); !errors.As(err, &failure) {
		t.Errorf("a redirect passed or did not say it failed: %v", err)
	}
	err := check(base, "/broken")
	if !errors.As(err, &failure) || !contains(err.Error(), "503", "migrations pending", srv.URL+"/broken") {
		t.Errorf("503 gave %v, want a Failure naming the URL, the status and the body", err)
	}
	if err := check(base, "/hang"); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a backend that never answers gave %v, want a timeout", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL, _ := url.Parse(closed.URL)
	closed.Close()
	if err := check(closedURL, "/healthz"); err == nil || errors.As(err, &failure) {
		t.Errorf("a closed port gave %v, want a connection error", err)
	}

	for _, bad := range []struct {
		base string
		path string
	}{{"", "/healthz"}, {"ftp://x", "/healthz"}, {"http://", "/healthz"}, {srv.URL, "http://elsewhere/healthz"}, {srv.URL, "%zz"}} {
		u, _ := url.Parse(bad.base)
		if _, err := NewHTTP(u, bad.path); err == nil {
			t.Errorf("NewHTTP(%q, %q) succeeded", bad.base, bad.path)
		}
	}
}

// TestRun lets Run loop against a server that turns unhealthy and back.
func TestRun(t *testing.T) {
	srv := newFlipServer(t, http.StatusOK)
	changes := make(chan Status, 10)
	c := NewChecker(srv.probe(t), Options{
		Interval:         5 * time.Millisecond,
		FailureThreshold: 2,
		OnChange:         func(s Status) { changes <- s },
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	next := func(want bool) {
		t.Helper()
		select {
		case s := <-changes:
			if s.Healthy != want {
				t.Fatalf("state changed to healthy=%v, want %v", s.Healthy, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no change to healthy=%v", want)
		}
	}
	next(true)
	srv.status.Store(http.StatusInternalServerError)
	next(false)
	if c.Healthy() {
		t.Error("Healthy() after the change to unhealthy")
	}
	if s := c.Status(); s.LastErr == nil || s.Streak < 2 {
		t.Errorf("unhealthy status %+v, want the last error and a streak of at least 2", s)
	}
	srv.status.Store(http.StatusOK)
	next(true)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil when its context ends", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestOnceInterrupted(t *testing.T) {
	srv := newFlipServer(t, http.StatusOK)
	c := NewChecker(srv.probe(t), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Once(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Once with an ended context returned %v", err)
	}
	if s := c.Status(); s.Checks != 0 {
		t.Errorf("an interrupted check was counted: %+v", s)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
