package router

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"ferry/fixtures"
)

func TestWeights(t *testing.T) {
	stable := newBackend(t, "1.4.0", nil)
	canary := newBackend(t, "1.5.0", nil)
	r, srv := newRouter(t, Options{})
	c := newClient(t)

	count := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			v, _ := get(t, c, newRequest(t, srv.URL))
			got[v]++
		}
		return got
	}

	mustSet(t, r, Config{Stable: stable.backend(), Canary: canary.backend(), CanaryWeight: 0})
	if got := count(200); got["1.4.0"] != 200 {
		t.Errorf("weight 0: %v, want every request on 1.4.0", got)
	}
	mustSet(t, r, Config{Stable: stable.backend(), Canary: canary.backend(), CanaryWeight: 100})
	if got := count(200); got["1.5.0"] != 200 {
		t.Errorf("weight 100: %v, want every request on 1.5.0", got)
	}
	// 1000 requests at 25%: the canary's share has a standard deviation
	// of 1.4 points; the bounds are almost 6 deviations wide each way.
	mustSet(t, r, Config{Stable: stable.backend(), Canary: canary.backend(), CanaryWeight: 25})
	got := count(1000)
	if share := float64(got["1.5.0"]) / 1000; share < 0.17 || share > 0.33 {
		t.Errorf("weight 25: %v, a canary share of %.3f", got, share)
	}

	// The router records a request after the client has its response.
	fixtures.WaitFor(t, "the recorders to catch up", func() bool {
		return stable.metrics.Snapshot().Requests == stable.hits.Load() && canary.metrics.Snapshot().Requests == canary.hits.Load()
	})
	if s, want := stable.metrics.Snapshot(), stable.hits.Load(); s.Requests != want || s.Responses() != want {
		t.Errorf("stable recorder: %d requests, %d responses; its backend saw %d", s.Requests, s.Responses(), want)
	}
	if s, want := canary.metrics.Snapshot(), canary.hits.Load(); s.Requests != want || s.Errors5xx != 0 || s.ConnErrors != 0 {
		t.Errorf("canary recorder: %+v; its backend saw %d", s, want)
	}

	// Without a canary, weight and rules do not matter.
	mustSet(t, r, Config{Stable: stable.backend(), CanaryWeight: 100, Rules: []Rule{{Header: "X-Canary"}}})
	req := newRequest(t, srv.URL)
	req.Header.Set("X-Canary", "1")
	if v, _ := get(t, c, req); v != "1.4.0" {
		t.Errorf("without a canary a request went to %s", v)
	}
}

func TestRules(t *testing.T) {
	stable := newBackend(t, "1.4.0", nil)
	canary := newBackend(t, "1.5.0", nil)
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{
		Stable: stable.backend(),
		Canary: canary.backend(),
		Rules: []Rule{
			{Header: "X-Canary", HeaderValue: "yes"},
			{Header: "X-Tester"},
			{Cookie: "track", CookieValue: "canary"},
			{ClientPrefix: netip.MustParsePrefix("127.0.0.2/32")},
		},
	})
	c := newClient(t)
	// A client whose connections come from 127.0.0.2.
	from2 := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")},
	}).DialContext}}

	tests := []struct {
		name   string
		client *http.Client
		modify func(*http.Request)
		want   string
	}{
		{"no match", c, func(*http.Request) {}, "1.4.0"},
		{"header", c, func(r *http.Request) { r.Header.Set("X-Canary", "yes") }, "1.5.0"},
		{"header, other value", c, func(r *http.Request) { r.Header.Set("X-Canary", "no") }, "1.4.0"},
		{"header, second value", c, func(r *http.Request) { r.Header.Add("X-Canary", "no"); r.Header.Add("X-Canary", "yes") }, "1.5.0"},
		{"header, any value", c, func(r *http.Request) { r.Header.Set("X-Tester", "") }, "1.5.0"},
		{"cookie", c, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "track", Value: "canary"}) }, "1.5.0"},
		{"cookie, other value", c, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "track", Value: "stable"}) }, "1.4.0"},
		{"X-Forwarded-For is not the client", c, func(r *http.Request) { r.Header.Set("X-Forwarded-For", "127.0.0.2") }, "1.4.0"},
		{"client network", from2, func(*http.Request) {}, "1.5.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, srv.URL)
			tt.modify(req)
			if got, _ := get(t, tt.client, req); got != tt.want {
				t.Errorf("went to %s, want %s", got, tt.want)
			}
		})
	}

	// All conditions of one rule must hold.
	mustSet(t, r, Config{Stable: stable.backend(), Canary: canary.backend(), Rules: []Rule{
		{Header: "X-Canary", HeaderValue: "yes", ClientPrefix: netip.MustParsePrefix("10.0.0.0/8")},
	}})
	req := newRequest(t, srv.URL)
	req.Header.Set("X-Canary", "yes")
	if got, _ := get(t, c, req); got != "1.4.0" {
		t.Errorf("a rule with a header and a network matched the header alone: went to %s", got)
	}
}

func TestStickyCookie(t *testing.T) {
	stable := newBackend(t, "1.4.0", nil)
	canary := newBackend(t, "1.5.0", nil)
	r, srv := newRouter(t, Options{})
	cfg := Config{Stable: stable.backend(), Canary: canary.backend(), CanaryWeight: 50, StickyCookie: "ferry-api"}
	mustSet(t, r, cfg)
	c := newClient(t)

	// first returns the cookie a new client is given.
	first := func() *http.Cookie {
		t.Helper()
		v, resp := get(t, c, newRequest(t, srv.URL))
		for _, ck := range resp.Cookies() {
			if ck.Name == "ferry-api" {
				if ck.Value != v || ck.Path != "/" || !ck.HttpOnly {
					t.Fatalf("sticky cookie %v for a response from %s", ck, v)
				}
				return ck
			}
		}
		t.Fatalf("no sticky cookie in the response: %v", resp.Header)
		return nil
	}
	// follow sends n requests with cookie and returns where they went and
	// any cookie set on the way.
	follow := func(ck *http.Cookie, n int) (map[string]int, []*http.Cookie) {
		t.Helper()
		got := map[string]int{}
		var set []*http.Cookie
		for range n {
			req := newRequest(t, srv.URL)
			req.AddCookie(ck)
			v, resp := get(t, c, req)
			got[v]++
			set = append(set, resp.Cookies()...)
		}
		return got, set
	}

	clients := map[string][]*http.Cookie{}
	for range 40 {
		ck := first()
		clients[ck.Value] = append(clients[ck.Value], ck)
		got, set := follow(ck, 20)
		if got[ck.Value] != 20 || len(set) != 0 {
			t.Fatalf("a client pinned to %s went to %v and was given cookies %v", ck.Value, got, set)
		}
	}
	if len(clients["1.4.0"]) == 0 || len(clients["1.5.0"]) == 0 {
		t.Fatalf("40 new clients at weight 50 all went to one version: %v", clients)
	}

	// At weight 0 the canary's clients move to stable, and are told so.
	cfg.CanaryWeight = 0
	mustSet(t, r, cfg)
	got, set := follow(clients["1.5.0"][0], 5)
	if got["1.4.0"] != 5 || len(set) == 0 || set[0].Value != "1.4.0" {
		t.Errorf("at weight 0 a canary client went to %v, cookies %v", got, set)
	}
	// At 100 the stable clients move to the canary.
	cfg.CanaryWeight = 100
	mustSet(t, r, cfg)
	if got, _ := follow(clients["1.4.0"][0], 5); got["1.5.0"] != 5 {
		t.Errorf("at weight 100 a stable client went to %v", got)
	}
	// A cookie for a version that is gone is re-chosen.
	if got, _ := follow(&http.Cookie{Name: "ferry-api", Value: "0.9.0"}, 5); got["1.5.0"] != 5 {
		t.Errorf("a cookie for an unknown version went to %v", got)
	}
}

func TestErrorsAndStatus(t *testing.T) {
	failing := newBackend(t, "1.4.0", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	down := newBackend(t, "1.5.0", nil)
	down.Close()
	r, srv := newRouter(t, Options{})
	c := newClient(t)

	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("before any Set: %s, want 503", resp.Status)
	}

	mustSet(t, r, Config{Stable: failing.backend()})
	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get(VersionHeader) != "1.4.0" {
		t.Errorf("a failing backend: %s from %q, want its 500 from 1.4.0", resp.Status, resp.Header.Get(VersionHeader))
	}
	fixtures.WaitFor(t, "the 500 to be recorded", func() bool { return failing.metrics.Snapshot().Requests == 1 })
	if s := failing.metrics.Snapshot(); s.Requests != 1 || s.Errors5xx != 1 || s.Responses() != 1 || s.ConnErrors != 0 {
		t.Errorf("failing backend's recorder %+v, want one 5xx response", s)
	}

	mustSet(t, r, Config{Stable: down.backend()})
	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(VersionHeader) != "1.5.0" || !strings.Contains(string(body), "1.5.0") {
		t.Errorf("a backend that is down: %s from %q: %s; want 502 naming 1.5.0", resp.Status, resp.Header.Get(VersionHeader), body)
	}
	fixtures.WaitFor(t, "the 502 to be recorded", func() bool { return down.metrics.Snapshot().Requests == 1 })
	if s := down.metrics.Snapshot(); s.Requests != 1 || s.ConnErrors != 1 || s.Responses() != 0 {
		t.Errorf("down backend's recorder %+v, want one connection error", s)
	}
}

func TestForwardedHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	b := newBackend(t, "1.4.0", func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		hosts <- r.Host
		w.Header().Set(VersionHeader, "forged")
		_, _ = io.WriteString(w, "1.4.0")
	})
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})
	req := newRequest(t, srv.URL+"/path?q=1")
	req.Host = "app.example.com"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	get(t, newClient(t), req) // checks X-Ferry-Version is the router's, not the backend's
	h := <-seen
	if got := h.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the client's appended", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != "app.example.com" {
		t.Errorf("X-Forwarded-Host %q", got)
	}
	if got := <-hosts; got != "app.example.com" {
		t.Errorf("backend saw Host %q, want the client's", got)
	}
}

func TestClientGoesAway(t *testing.T) {
	arrived := make(chan struct{})
	b := newBackend(t, "1.4.0", func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	go func() {
		<-arrived
		cancel()
	}()
	if _, err := newClient(t).Do(req); err == nil {
		t.Fatal("a canceled request succeeded")
	}
	fixtures.WaitFor(t, "the canceled request to be recorded", func() bool { return b.metrics.Snapshot().Canceled == 1 })
	if s := b.metrics.Snapshot(); s.ConnErrors != 0 || s.Responses() != 0 {
		t.Errorf("a client going away counted against the backend: %+v", s)
	}
	fixtures.WaitFor(t, "the request to leave", func() bool { return r.InFlight("1.4.0") == 0 })
}

func TestInvalidConfig(t *testing.T) {
	good := newBackend(t, "1.4.0", nil)
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: good.backend()})
	u, _ := url.Parse("http://127.0.0.1:1")
	bad := []Config{
		{},
		{Stable: &Backend{Version: "", URL: u}},
		{Stable: &Backend{Version: "1 0", URL: u}},
		{Stable: &Backend{Version: "1;0", URL: u}},
		{Stable: &Backend{Version: "1.0", URL: nil}},
		{Stable: &Backend{Version: "1.0", URL: &url.URL{Scheme: "ftp", Host: "x"}}},
		{Stable: good.backend(), Canary: good.backend(), CanaryWeight: 101},
		{Stable: good.backend(), Canary: good.backend(), CanaryWeight: -1},
		{Stable: good.backend(), Canary: good.backend(), Rules: []Rule{{}}},
		{Stable: good.backend(), Canary: good.backend(), Rules: []Rule{{Header: "bad header"}}},
		{Stable: good.backend(), Canary: good.backend(), Rules: []Rule{{HeaderValue: "x"}}},
		{Stable: good.backend(), Canary: good.backend(), Rules: []Rule{{CookieValue: "x"}}},
		{Stable: good.backend(), Canary: good.backend(), Rules: []Rule{{Cookie: "a=b"}}},
		{Stable: good.backend(), StickyCookie: "no spaces"},
	}
	for i, cfg := range bad {
		if err := r.Set(t.Context(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("config %d: Set returned %v, want ErrInvalidConfig", i, err)
		}
	}
	if v, _ := get(t, newClient(t), newRequest(t, srv.URL)); v != "1.4.0" {
		t.Errorf("after refused configs requests go to %s", v)
	}
	cur, ok := r.Current()
	if !ok || cur.Stable.Version != "1.4.0" || cur.Canary != nil {
		t.Errorf("Current() = %+v, %v", cur, ok)
	}
}

func TestServe(t *testing.T) {
	b := newBackend(t, "1.4.0", nil)
	r := New(Options{Service: "api"})
	mustSet(t, r, Config{Stable: b.backend()})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, l) }()
	if v, _ := get(t, newClient(t), newRequest(t, "http://"+l.Addr().String())); v != "1.4.0" {
		t.Errorf("served by %s", v)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
}
