package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// haproxyPath is where Debian installs HAProxy, the reference proxy the
// router is measured against in the same layout (scripts/deps.sh
// installs it).
const haproxyPath = "/usr/sbin/haproxy"

// startHAProxy runs HAProxy as a plain HTTP/1.1 keep-alive proxy from a
// free loopback port to backendURL, on cpus (with as many threads), and
// waits until it accepts connections. It returns nil, nil when HAProxy is
// not installed.
func startHAProxy(dir string, cpus []int, backendURL string) (*child, error) {
	if _, err := os.Stat(haproxyPath); err != nil {
		return nil, nil
	}
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	threads := max(1, len(cpus))
	cfg := fmt.Sprintf(`global
  nbthread %d
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend bench
  bind 127.0.0.1:%d
  default_backend app
backend app
  server app %s
`, threads, port, u.Host)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	args := []string{haproxyPath, "-db", "-f", path}
	if cpus != nil {
		args = append([]string{"taskset", "-c", cpuList(cpus)}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	// HAProxy does not watch its standard input: should this program die
	// without stopping it, the kernel does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe() // unused: HAProxy is stopped by a signal
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, url: "http://127.0.0.1:" + strconv.Itoa(port) + "/", kill: true}
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			conn.Close()
			return c, nil
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("haproxy did not listen on port %d: %w", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startReference starts HAProxy in the router's place, in a directory of
// its own that goes when it stops; nil, nil when it is not installed.
func startReference(lay layout, backendURL string) (*contender, error) {
	dir, err := os.MkdirTemp("", "routerbench-")
	if err != nil {
		return nil, err
	}
	hp, err := startHAProxy(dir, lay.appliance, backendURL)
	if err != nil || hp == nil {
		os.RemoveAll(dir)
		return nil, err
	}
	hp.dir = dir
	return &contender{name: "haproxy", c: hp}, nil
}
