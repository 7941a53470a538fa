package router

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzPick routes requests whose rule inputs come from the client: a
// header, the Cookie header and the peer address. Nothing may panic, the
// header rule must send its requests to the canary, and the canary gets a
// request (at weight 0) only when a rule could have matched it.
func FuzzPick(f *testing.F) {
	f.Add("yes", "track=canary", "10.1.2.3:4000", "ferry-api=1.5.0")
	f.Add("no", "track=stable; a=b", "[::ffff:10.0.0.1]:80", "")
	f.Add("", "", "@", "ferry-api=1.4.0")
	f.Add("yes\x00", "track=\"canary\"", "[fe80::1%eth0]:1", "ferry-api=")

	u, _ := url.Parse("http://127.0.0.1:1")
	r := New(Options{Service: "api"})
	err := r.Set(f.Context(), Config{
		Stable: &Backend{Version: "1.4.0", URL: u},
		Canary: &Backend{Version: "1.5.0", URL: u.JoinPath("canary")},
		Rules: []Rule{
			{Header: "X-Canary", HeaderValue: "yes"},
			{Cookie: "track", CookieValue: "canary"},
			{ClientPrefix: netip.MustParsePrefix("10.0.0.0/8")},
		},
		StickyCookie: "ferry-api",
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, header, cookies, remoteAddr, sticky string) {
		req := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, RemoteAddr: remoteAddr}
		req.Header["X-Canary"] = []string{header}
		req.Header["Cookie"] = []string{cookies, sticky}

		r.mu.RLock()
		l, cookie := r.gen.pick(req)
		r.mu.RUnlock()
		if l == nil {
			t.Fatal("no backend picked")
		}
		toCanary := l.target.backend.Version == "1.5.0"
		if header == "yes" && !toCanary {
			t.Fatal("a request with X-Canary: yes went to the stable version")
		}
		couldMatch := header == "yes" || strings.Contains(cookies+sticky, "canary") || strings.Contains(remoteAddr, "10.")
		if toCanary && !couldMatch {
			t.Fatalf("request (X-Canary %q, Cookie %q %q, from %q) went to the canary at weight 0", header, cookies, sticky, remoteAddr)
		}
		if cookie != nil && cookie.Value != "1.4.0" {
			t.Fatalf("sticky cookie %v at weight 0", cookie)
		}
		if cookie != nil && toCanary {
			t.Fatal("a sticky cookie for a request a rule sent")
		}
	})
}
