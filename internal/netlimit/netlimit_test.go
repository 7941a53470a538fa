package netlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"ferry/internal/testenv"
)

// short is the timeout the tests give the server: what is asserted is that
// the connection is closed, never how soon.
const short = 200 * time.Millisecond

// patience bounds every wait of a test for something that must happen.
const patience = 30 * time.Second

func serve(t *testing.T, h http.Handler, lim Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, l := New(ln, h, lim)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends a request on c and reads its response.
func get(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(patience))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// waitClosed fails unless the server closes c (a read returns EOF) before
// the test's patience runs out.
func waitClosed(t *testing.T, c net.Conn, br io.Reader) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	_, err := io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %s", patience)
	}
}

// An idle client that connects and sends nothing is disconnected.
func TestIdleClientIsDisconnected(t *testing.T) {
	addr := serve(t, hello, Limits{HeaderTimeout: short, IdleTimeout: patience * 2})
	c := dial(t, addr)
	waitClosed(t, c, c)
}

// A kept-alive connection that sends no next request is disconnected.
func TestIdleKeptAliveIsDisconnected(t *testing.T) {
	addr := serve(t, hello, Limits{HeaderTimeout: patience * 2, IdleTimeout: short})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	get(t, c, br)
	waitClosed(t, c, br)
}

// A client that stops reading a large response is disconnected: the
// server's write fails instead of blocking for ever.
func TestStalledReaderIsDisconnected(t *testing.T) {
	werr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1<<20)
		for range 256 { // far more than the socket buffers hold
			if _, err := w.Write(buf); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	})
	addr := serve(t, h, Limits{StallTimeout: short})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-werr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("the handler's write ended with %v, want a timeout", err)
		}
	case <-time.After(patience):
		t.Fatalf("a client that reads nothing held the server's write for %s", patience)
	}
	waitClosed(t, c, c)
}

// serveFile answers every request with the file at path, as the registry
// answers a blob request: http.ServeContent, which sends through the
// connection's ReadFrom. done gets a value when the handler returns.
func serveFile(t *testing.T, path string, lim Limits) (addr string, done chan struct{}) {
	done = make(chan struct{}, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	})
	return serve(t, h, lim), done
}

// A client that stops reading a file sent from disk is disconnected too:
// the ReadFrom that keeps sendfile holds the same bound as Write.
func TestStalledReaderOfFileIsDisconnected(t *testing.T) {
	path := t.TempDir() + "/big"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil { // sparse: far more than the socket buffers hold
		t.Fatal(err)
	}
	f.Close()
	addr, done := serveFile(t, path, Limits{StallTimeout: short})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("a client that reads nothing held the server's sending of a file for %s", patience)
	}
	waitClosed(t, c, c)
}

// A file sent through ReadFrom arrives whole and in order, and so does a
// range of it, which net/http sends under an io.LimitedReader.
func TestFileSentWhole(t *testing.T) {
	want := make([]byte, 3*sendChunk+12345)
	for i := range want {
		want[i] = byte(i * 7 / 3)
	}
	path := t.TempDir() + "/blob"
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _ := serveFile(t, path, Limits{})
	for _, rng := range []struct {
		header   string
		from, to int
	}{
		{"", 0, len(want)},
		{"bytes=1000-", 1000, len(want)},
		{fmt.Sprintf("bytes=%d-%d", sendChunk-5, 2*sendChunk+5), sendChunk - 5, 2*sendChunk + 6},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		if rng.header != "" {
			req.Header.Set("Range", rng.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[rng.from:rng.to]) {
			t.Errorf("range %q: got %d bytes, want bytes %d to %d of the file", rng.header, len(got), rng.from, rng.to)
		}
	}
}

// A client that announces a request body and dribbles it is disconnected
// once answered, instead of holding the connection while the server waits
// for the rest of the body.
func TestSlowBodyIsDisconnected(t *testing.T) {
	addr := serve(t, hello, Limits{StallTimeout: short, HeaderTimeout: patience * 2, IdleTimeout: patience * 2})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly this"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(patience))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitClosed(t, c, br)
}

// A client that opens more connections than the limit gets no more served:
// the one beyond it waits, unanswered, until one of the others closes, and
// is then served.
func TestConnectionLimit(t *testing.T) {
	var log testenv.Buffer
	addr := serve(t, hello, Limits{MaxConns: 2, HeaderTimeout: patience * 2, IdleTimeout: patience * 2,
		Log: slog.New(slog.NewTextHandler(&log, nil))})
	var held []net.Conn
	for range 2 {
		c := dial(t, addr)
		get(t, c, bufio.NewReader(c)) // served: it holds a slot
		held = append(held, c)
	}
	extra := dial(t, addr)
	if _, err := io.WriteString(extra, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, &log, "connection limit reached")
	// It is held in Accept, unread: nothing can have been answered.
	_ = extra.SetReadDeadline(time.Now().Add(short))
	if n, err := extra.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection beyond the limit was answered: %d bytes, %v", n, err)
	}
	held[0].Close()
	br := bufio.NewReader(extra)
	_ = extra.SetReadDeadline(time.Now().Add(patience))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the waiting connection was not served once a slot was free: %v", err)
	}
	resp.Body.Close()
}

// waitLog waits until log holds want.
func waitLog(t *testing.T, log interface{ String() string }, want string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !strings.Contains(log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
