package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"ferry/rollout/metrics"
	"ferry/rollout/router"
)

// The throughput and latency measurements run the backend and the router
// as processes of their own, as ferry serve runs them: a service is its
// own process, and the router is ferry's. The load generator is this
// process. Where the machine has two CPUs or more, the load generator is
// pinned to the first half of them and the router and backend share the
// second half — the appliance — so that the load generator stands in for
// clients on other machines without taking CPU from the appliance.

// layout is which CPUs the load generator and the appliance (router and
// backend) run on; nil sets mean unpinned.
type layout struct {
	load, appliance []int
}

func planLayout() layout {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return layout{}
	}
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) < 2 {
		return layout{}
	}
	half := len(cpus) / 2
	return layout{load: cpus[:half], appliance: cpus[half:]}
}

func (l layout) String() string {
	if l.load == nil {
		return "unpinned: load generator, router and backend share every CPU (separate processes)"
	}
	return fmt.Sprintf("load generator on CPU %s; router and backend, separate processes, share CPU %s",
		cpuList(l.load), cpuList(l.appliance))
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// pinSelf binds every thread of this process to cpus, and the threads it
// starts later with them, and sizes the Go scheduler to match.
func pinSelf(cpus []int) error {
	if cpus == nil {
		return nil
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pin thread %d to CPU %s: %w", tid, cpuList(cpus), err)
		}
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// child is a backend or router process started by startChild.
type child struct {
	cmd   *exec.Cmd
	stdin io.Closer
	url   string
	kill  bool   // stopped by SIGTERM rather than by closing stdin
	dir   string // removed when it stops
}

// startChild runs this program in role on cpus with args and waits for
// the URL it serves at, which it prints on its first line.
func startChild(role string, cpus []int, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args = append([]string{"-role", role, "-cpus", cpuList(cpus)}, args...)
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill() // the child is of no use: reap it
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s %s: no address: %w", filepath.Base(self), role, err)
	}
	return &child{cmd: cmd, stdin: stdin, url: strings.TrimSpace(line)}, nil
}

// stop ends the child: it exits when its standard input closes.
func (c *child) stop() {
	c.stdin.Close()
	// How the child ends is no measurement: the signals and the exit
	// status are ignored; a child that has exited already ignores them.
	if c.kill {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// cpuTime is the user and system time the child has used so far.
func (c *child) cpuTime(s *metrics.Sampler) (time.Duration, error) {
	sample, err := s.Sample([]int{c.cmd.Process.Pid})
	if err != nil {
		return 0, err
	}
	return sample.CPU, nil
}

// runChild is main for -role backend and -role router: serve on a free
// loopback port, print its URL, and exit when standard input closes.
func runChild(role, cpus, backendURL string, work time.Duration) error {
	if cpus != "" {
		var set []int
		for _, f := range strings.Split(cpus, ",") {
			c, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("-cpus %q: %w", cpus, err)
			}
			set = append(set, c)
		}
		if err := pinSelf(set); err != nil {
			return err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // EOF or not, the parent is gone
		cancel()
	}()
	var serve func() error
	switch role {
	case "backend":
		spin := calibrate(work)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			spin()
			_, _ = io.WriteString(w, "ok")
		}), ReadHeaderTimeout: 10 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		serve = func() error { return srv.Serve(l) }
	case "router":
		u, err := url.Parse(backendURL)
		if err != nil {
			return err
		}
		r := router.New(router.Options{Service: "bench"})
		b := &router.Backend{Version: "1.0.0", URL: u, Metrics: metrics.NewRecorder("bench", "1.0.0")}
		if err := r.Set(ctx, router.Config{Stable: b}); err != nil {
			return err
		}
		serve = func() error { return r.Serve(ctx, l) }
	case "relay":
		u, err := url.Parse(backendURL)
		if err != nil {
			return err
		}
		serve = func() error { return serveRelay(ctx, l, u.Host) }
	default:
		return fmt.Errorf("-role %q: want backend, router or relay", role)
	}
	fmt.Printf("http://%s/\n", l.Addr())
	if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
		return err
	}
	return nil
}

// calibrate returns a function that does a fixed amount of CPU work: as
// many SHA-256 rounds over 64 bytes as take work on this CPU when it is
// otherwise idle (measured here, at start). The work stays the same when
// the CPU is shared, as a real handler's would; a sleep would not.
func calibrate(work time.Duration) func() {
	if work <= 0 {
		return func() {}
	}
	round := func(n int) {
		var block [sha256.Size]byte
		for range n {
			block = sha256.Sum256(block[:])
		}
	}
	const probe = 20000
	best := time.Duration(1 << 62)
	for range 5 {
		start := time.Now()
		round(probe)
		best = min(best, time.Since(start))
	}
	n := max(1, int(float64(probe)*float64(work)/float64(best)))
	return func() { round(n) }
}
