package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/fixtures"
	"ferry/internal/testenv"
)

// TestRegistryServeBounds attacks `ferry registry serve` on a real
// appliance, one attack per subtest: idle clients are disconnected, and a
// client opening more connections than --max-conns gets no more served
// until one of them closes.
func TestRegistryServeBounds(t *testing.T) {
	const (
		short    = "200ms" // what is asserted is that connections close, never how soon
		patience = 30 * time.Second
	)
	bin := buildFerry(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	ferry := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "FERRY_PASSPHRASE=e2e")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := fixtures.WriteProject(filepath.Join(dir, "proj"), fixtures.ProjectOptions{}); err != nil {
		t.Fatal(err)
	}
	ferry("keys", "generate", "--type", "ed25519", "--out", "k")
	ferry("bundle", "create", "-f", "proj/ferry.yaml", "-o", "app.ferry", "--key", "k.key")
	ferry("install", "app.ferry", "--root", root, "--key", "k.pub")

	// serveRegistry starts ferry registry serve with flags and returns its
	// address and its stderr.
	serveRegistry := func(t *testing.T, flags ...string) (string, *testenv.Buffer) {
		addr := fixtures.FreeTCPAddr(t)
		stderr := &testenv.Buffer{}
		cmd := exec.Command(bin, append([]string{"registry", "serve", "--root", root, "--addr", addr}, flags...)...)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = stopServe(cmd) })
		deadline := time.Now().Add(patience)
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				return addr, stderr
			}
			if time.Now().After(deadline) {
				t.Fatalf("registry serve does not listen: %v\n%s", err, stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	dial := func(t *testing.T, addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		if _, err := io.WriteString(c, "GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(patience))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	waitClosed := func(t *testing.T, c net.Conn, r io.Reader, what string) {
		_ = c.SetReadDeadline(time.Now().Add(patience))
		_, err := io.Copy(io.Discard, r)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s kept its connection for %s", what, patience)
		}
	}

	t.Run("idle clients", func(t *testing.T) {
		addr, _ := serveRegistry(t, "--header-timeout", short, "--idle-timeout", short)
		silent := dial(t, addr)
		waitClosed(t, silent, silent, "a client that sends nothing")
		idle := dial(t, addr)
		br := bufio.NewReader(idle)
		get(t, idle, br)
		waitClosed(t, idle, br, "a kept-alive client that sends no next request")
	})

	t.Run("connection limit", func(t *testing.T) {
		addr, stderr := serveRegistry(t, "--max-conns", "2")
		var held []net.Conn
		for range 2 {
			c := dial(t, addr)
			get(t, c, bufio.NewReader(c))
			held = append(held, c)
		}
		extra := dial(t, addr)
		if _, err := io.WriteString(extra, "GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(patience)
		for !strings.Contains(stderr.String(), "connection limit reached") {
			if time.Now().After(deadline) {
				t.Fatalf("no warning of the connection limit:\n%s", stderr)
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = extra.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := extra.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection beyond the limit was answered (%d bytes, %v)", n, err)
		}
		held[0].Close()
		_ = extra.SetReadDeadline(time.Now().Add(patience))
		resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
		if err != nil {
			t.Fatalf("the waiting connection was not served once another closed: %v", err)
		}
		resp.Body.Close()
	})
}
