package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"ferry/rollout/metrics"
)

// idleConns is how many kept-alive client connections the memory
// measurement holds open: a site's browsers and pollers between requests.
const idleConns = 500

// idleMemory opens n connections to c, sends one request on each and keeps
// them open, and returns how much c's resident memory grew per connection.
func idleMemory(c *child, sampler *metrics.Sampler, n int) (perConn float64, err error) {
	u, err := url.Parse(c.url)
	if err != nil {
		return 0, err
	}
	pid := []int{c.cmd.Process.Pid}
	before, err := sampler.Sample(pid)
	if err != nil {
		return 0, err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for i := range n {
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			return 0, fmt.Errorf("idle connection %d: %w", i+1, err)
		}
		conns = append(conns, conn)
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return 0, fmt.Errorf("idle connection %d: %w", i+1, err)
		}
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			return 0, fmt.Errorf("idle connection %d: %w", i+1, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0, fmt.Errorf("idle connection %d: %w", i+1, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("idle connection %d: %s", i+1, resp.Status)
		}
	}
	time.Sleep(200 * time.Millisecond) // for the server to settle into its idle state
	after, err := sampler.Sample(pid)
	if err != nil {
		return 0, err
	}
	return float64(after.RSS-before.RSS) / 1024 / float64(n), nil
}
