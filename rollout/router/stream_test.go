package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ferry/fixtures"
)

// TestStreaming checks that a response is passed on as the backend
// flushes it: the client reads the first chunk while the backend is still
// waiting to write the last, which it does only once the client has the
// first. A router that buffered would hang here.
func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, "1.4.0", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "last\n")
	})
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})

	resp, err := newClient(t).Do(newRequest(t, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get(VersionHeader) != "1.4.0" {
		t.Errorf("streamed response from %q", resp.Header.Get(VersionHeader))
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "last\n" {
		t.Fatalf("last chunk %q, %v", rest, err)
	}
}

// echoBackend accepts WebSockets and echoes every message.
func echoBackend(t *testing.T, version string) *testBackend {
	return newBackend(t, version, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer func() { _ = c.CloseNow() }() // the handler's end: nothing to tell
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
}

func dialWS(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial WebSocket through the router: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get(VersionHeader) == "" {
		t.Errorf("handshake %s from %q", resp.Status, resp.Header.Get(VersionHeader))
	}
	return conn
}

func echo(ctx context.Context, conn *websocket.Conn, msg string) error {
	if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return err
	}
	_, got, err := conn.Read(ctx)
	if err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo of %q came back as %q", msg, got)
	}
	return nil
}

func TestWebSocket(t *testing.T) {
	b := echoBackend(t, "1.5.0")
	r, srv := newRouter(t, Options{})
	mustSet(t, r, Config{Stable: b.backend()})
	conn := dialWS(t, srv.URL)
	for i := range 10 {
		if err := echo(t.Context(), conn, fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	fixtures.WaitFor(t, "the WebSocket to be recorded", func() bool { return b.metrics.Snapshot().Requests == 1 })
	if s := b.metrics.Snapshot(); s.Responses() != 1 || s.ConnErrors != 0 || s.Errors5xx != 0 {
		t.Errorf("recorder after one WebSocket: %+v", s)
	}
}

// TestDrainTimeout holds a WebSocket open on the canary while Set takes
// the canary's traffic away: Set gives up after the drain timeout and says
// what is still running, and Drain finishes once the WebSocket closes.
func TestDrainTimeout(t *testing.T) {
	stable := echoBackend(t, "1.4.0")
	canary := echoBackend(t, "1.5.0")
	r, srv := newRouter(t, Options{DrainTimeout: 50 * time.Millisecond})
	mustSet(t, r, Config{Stable: stable.backend(), Canary: canary.backend(), CanaryWeight: 100})
	conn := dialWS(t, srv.URL)
	if err := echo(t.Context(), conn, "hello"); err != nil {
		t.Fatal(err)
	}

	err := r.Set(t.Context(), Config{Stable: stable.backend()})
	var derr *DrainError
	if !errors.As(err, &derr) || !errors.Is(err, ErrDrainTimeout) || derr.InFlight["1.5.0"] != 1 {
		t.Fatalf("Set with a WebSocket open on the old canary returned %v, want a DrainError with 1 request to 1.5.0", err)
	}
	if !strings.Contains(err.Error(), "1 to version 1.5.0") {
		t.Errorf("drain error does not say what is running: %v", err)
	}
	if err := r.Drain(t.Context(), "1.4.0"); !errors.Is(err, ErrStillRouted) {
		t.Errorf("Drain of the stable version returned %v, want ErrStillRouted", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Drain(ctx, "1.5.0"); !errors.Is(err, context.Canceled) || !errors.As(err, &derr) {
		t.Errorf("Drain with an ended context returned %v", err)
	}
	// The open WebSocket still works: draining does not cut it off.
	if err := echo(t.Context(), conn, "still there"); err != nil {
		t.Fatal(err)
	}
	if got := r.InFlight("1.5.0"); got != 1 {
		t.Errorf("InFlight(1.5.0) = %d, want 1", got)
	}

	drained := make(chan error, 1)
	go func() { drained <- r.Drain(t.Context(), "1.5.0") }()
	if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if err := <-drained; err != nil {
		t.Fatalf("Drain after the WebSocket closed: %v", err)
	}
	if got := r.InFlight("1.5.0"); got != 0 {
		t.Errorf("InFlight(1.5.0) = %d after the drain", got)
	}
	if err := r.Drain(t.Context(), "0.0.1"); err != nil {
		t.Errorf("Drain of a version never routed: %v", err)
	}
}
