package router

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawExchange sends raw request bytes on one connection to addr and reads
// n responses from it, so that a test controls the exact bytes and sees
// whether the connection stays open.
func rawExchange(t *testing.T, addr, raw string, n int) []*http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var out []*http.Response
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d of %d on one connection: %v", i+1, n, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("body of response %d: %v", i+1, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		out = append(out, resp)
	}
	return out
}

// TestHopHeaders: a connection's own headers stay between client and
// router, and between router and backend; the request's and response's
// other headers pass, and the client's connection stays open after a
// backend closed its own with Connection: close.
func TestHopHeaders(t *testing.T) {
	seen := make(chan http.Header, 2)
	b := newBackend(t, "1.4.0", func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Header().Set("Connection", "close, X-Backend-Hop")
		w.Header().Set("X-Backend-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "yes")
		_, _ = io.WriteString(w, "1.4.0")
	})
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})
	req := "GET / HTTP/1.1\r\nHost: app\r\nConnection: keep-alive, X-Client-Hop\r\nX-Client-Hop: 1\r\n" +
		"Keep-Alive: 300\r\nProxy-Authorization: Basic eDp5\r\nTe: trailers, deflate\r\nX-Request-Id: 42\r\n\r\n"
	resps := rawExchange(t, srv.URL, req+req, 2)
	for i, resp := range resps {
		if resp.StatusCode != 200 || resp.Header.Get(VersionHeader) != "1.4.0" {
			t.Fatalf("response %d: %s from %q", i, resp.Status, resp.Header.Get(VersionHeader))
		}
		for _, name := range []string{"X-Backend-Hop", "Keep-Alive"} {
			if v := resp.Header.Get(name); v != "" {
				t.Errorf("client got the backend's %s: %q", name, v)
			}
		}
		if resp.Header.Get("X-Kept") != "yes" || resp.Close {
			t.Errorf("response %d: X-Kept %q, close %v", i, resp.Header.Get("X-Kept"), resp.Close)
		}
		h := <-seen
		for _, name := range []string{"X-Client-Hop", "Keep-Alive", "Proxy-Authorization"} {
			if v := h.Get(name); v != "" {
				t.Errorf("backend got the client's %s: %q", name, v)
			}
		}
		if h.Get("X-Request-Id") != "42" || h.Get("Te") != "trailers" {
			t.Errorf("backend got X-Request-Id %q, Te %q", h.Get("X-Request-Id"), h.Get("Te"))
		}
	}
}

// TestMethodsAndBodies: HEAD gets the headers of GET without a body, a 204
// and a 304 pass without one, and uploads reach the backend whole, with a
// length or chunked, larger than any buffer.
func TestMethodsAndBodies(t *testing.T) {
	b := newBackend(t, "1.4.0", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			w.Header().Set("X-Length", fmt.Sprint(n))
			w.Header().Set("X-Sum", fmt.Sprintf("%x", h.Sum(nil)))
			_, _ = io.WriteString(w, "1.4.0")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/same":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "1.4.0")
		}
	})
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})
	c := newClient(t)

	resp, err := c.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 5 {
		t.Errorf("HEAD: %s, length %d; want 200 with GET's length 5", resp.Status, resp.ContentLength)
	}
	for _, path := range []string{"/empty", "/same"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(body) != 0 || resp.Header.Get(VersionHeader) != "1.4.0" {
			t.Errorf("GET %s: %s with %d bytes of body", path, resp.Status, len(body))
		}
	}

	payload := bytes.Repeat([]byte("ferry upload "), 1<<20) // 13 MiB
	want := fmt.Sprintf("%x", sha256.Sum256(payload))
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(payload)
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/upload", body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Sum") != want {
			t.Errorf("upload (chunked %v): %s, backend read %s bytes", chunked, resp.Status, resp.Header.Get("X-Length"))
		}
	}
}

// TestBackendClosedIdle: when the backend closes the connections the
// router keeps for it, the next requests go through on new ones rather
// than failing: a GET is sent again, and a POST, whose body the router
// cannot send twice, gets a connection checked first.
func TestBackendClosedIdle(t *testing.T) {
	b := newBackend(t, "1.4.0", nil)
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})
	c := newClient(t)
	post := func() error {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("form=1"))
		_, _, err := fetch(c, req)
		return err
	}

	get(t, c, newRequest(t, srv.URL))
	b.CloseClientConnections()
	if _, _, err := fetch(c, newRequest(t, srv.URL)); err != nil {
		t.Errorf("GET after the backend closed the idle connection: %v", err)
	}
	b.CloseClientConnections()
	time.Sleep(checkAfterIdle + 100*time.Millisecond)
	if err := post(); err != nil {
		t.Errorf("POST after the backend closed the idle connection: %v", err)
	}
	if s := b.metrics.Snapshot(); s.ConnErrors != 0 {
		t.Errorf("connection errors counted: %+v", s)
	}
}

// TestBodyToConnectionClose: a backend that ends its response by closing
// the connection (HTTP/1.0 style, no length, no chunks) is passed on
// whole, and the next request, a POST that cannot be sent twice, does not
// land on the closed connection.
func TestBodyToConnectionClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				// A client gone is the client's test to fail.
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nX-Ferry-Version: 1.4.0\r\n\r\n1.4.0")
			}()
		}
	}()
	u, _ := url.Parse("http://" + l.Addr().String())
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: &Backend{Version: "1.4.0", URL: u}})
	c := newClient(t)
	for i := range 3 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("x"))
		if v, _, err := fetch(c, req); err != nil || v != "1.4.0" {
			t.Fatalf("request %d: %q, %v", i, v, err)
		}
	}
}

// TestNoSmuggling sends requests framed to make a front and a back end
// disagree on where one request ends. The router frames each request
// anew for the backend, so whatever it makes of the bytes, the backend
// sees exactly the requests the client got answers to, and never the
// request hidden in another's body.
func TestNoSmuggling(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	b := newBackend(t, "1.4.0", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+string(body))
		mu.Unlock()
		_, _ = io.WriteString(w, "1.4.0")
	})
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})
	const hidden = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := map[string]string{
		"length and chunked":     "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden,
		"chunked and length":     "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\n" + hidden,
		"two lengths":            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n" + hidden,
		"unknown coding":         "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + hidden,
		"space before colon":     "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + hidden,
		"coding list":            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + hidden,
		"folded header":          "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n" + hidden,
		"chunked in HTTP/1.0":    "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden,
		"chunk size overflowing": "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n" + hidden,
	}
	for name, raw := range cases {
		mu.Lock()
		seen = nil
		mu.Unlock()
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, raw)
		out, _ := io.ReadAll(conn) // until the router closes or the deadline
		conn.Close()
		answered := strings.Count(string(out), "HTTP/1.1 200 ")
		mu.Lock()
		for _, s := range seen {
			if strings.HasPrefix(s, "/smuggled") {
				t.Errorf("%s: the hidden request reached the backend (%q)", name, seen)
			}
		}
		if len(seen) != answered {
			t.Errorf("%s: the backend saw %q, the client got %d answers", name, seen, answered)
		}
		mu.Unlock()
	}
}
