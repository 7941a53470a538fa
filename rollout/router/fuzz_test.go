package router

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
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
		// The header as the server parses it from the client's bytes;
		// requests it refuses never reach pick.
		raw := "GET / HTTP/1.1\r\nHost: x\r\nX-Canary: " + header + "\r\nCookie: " + cookies + "\r\nCookie: " + sticky + "\r\n\r\n"
		var h fasthttp.RequestHeader
		if err := h.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			return
		}
		var client netip.Addr
		if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
			client = clientAddr(net.TCPAddrFromAddrPort(ap))
		}

		r.mu.RLock()
		l, cookie := r.gen.pick(&h, client, false)
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
		if cookie != "" && !strings.HasPrefix(cookie, "ferry-api=1.4.0;") {
			t.Fatalf("sticky cookie %v at weight 0", cookie)
		}
		if cookie != "" && toCanary {
			t.Fatal("a sticky cookie for a request a rule sent")
		}
	})
}

// FuzzPrepareRequest passes client headers the router does not trust
// through prepareRequest: nothing may panic; no header the Connection
// header names, and no hop-by-hop header, reaches the backend; the
// client's address ends X-Forwarded-For; and what the router writes to the
// backend parses again as one request.
func FuzzPrepareRequest(f *testing.F) {
	f.Add("keep-alive, X-Secret", "X-Secret: 1\r\nKeep-Alive: 300\r\n", "203.0.113.9", "trailers")
	f.Add("Upgrade", "Upgrade: websocket\r\n", "", "")
	f.Add(",,, ,close", "Proxy-Authorization: x\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b\r\n", "1.1.1.1, 2.2.2.2", "gzip, trailers")

	client := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4000}
	f.Fuzz(func(t *testing.T, connection, extra, forwarded, te string) {
		raw := "POST /x HTTP/1.1\r\nHost: app\r\nConnection: " + connection + "\r\n" + extra +
			"X-Forwarded-For: " + forwarded + "\r\nTe: " + te + "\r\nContent-Length: 2\r\n\r\nhi"
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			return // refused by the server's parser; never reaches the router
		}
		body := string(req.Body())
		named := tokens(req.Header.Peek("Connection"))
		upgrade := req.Header.ConnectionUpgrade()
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, client, nil)
		prepareRequest(&ctx, clientAddr(client), upgrade)

		h := &ctx.Request.Header
		for _, name := range append(named, hopHeaders...) {
			switch strings.ToLower(name) {
			case "close", "keep-alive", "upgrade", "te", "connection", "content-length", "transfer-encoding", "host":
				continue
			}
			if v := h.Peek(name); v != nil {
				t.Fatalf("%s: %q reaches the backend", name, v)
			}
		}
		if te := h.Peek("Te"); te != nil && string(te) != "trailers" {
			t.Fatalf("Te: %q reaches the backend", te)
		}
		if xff := string(h.Peek("X-Forwarded-For")); !strings.HasSuffix(xff, "192.0.2.7") {
			t.Fatalf("X-Forwarded-For %q does not end with the client", xff)
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		if err := ctx.Request.Write(w); err != nil {
			t.Fatalf("write the request: %v", err)
		}
		w.Flush()
		var again fasthttp.Request
		if err := again.Read(bufio.NewReader(bytes.NewReader(out.Bytes()))); err != nil {
			t.Fatalf("the request the backend gets does not parse: %v\n%q", err, out.Bytes())
		}
		if string(again.Body()) != body {
			t.Fatalf("body %q, want %q", again.Body(), body)
		}
	})
}
