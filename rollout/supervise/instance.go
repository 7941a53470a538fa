package supervise

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Instance is one supervised version of one service: its process, restarted
// when it exits on its own, until Stop. Its methods are safe for concurrent
// use.
//
// Each Instance holds one lumberjack.Logger for its log, and lumberjack
// (v2.2.1) leaves one idle goroutine behind per Logger once it has written:
// a few kilobytes per Start over the life of the supervisor.
type Instance struct {
	spec   Spec
	log    *lumberjack.Logger
	record string // path of the group record

	stop     chan struct{} // closed by the first Stop
	stopOnce sync.Once
	done     chan struct{} // closed when the instance is Stopped or Failed

	mu     sync.Mutex
	status Status
	port   int
	grace  time.Duration
}

// Start starts the service's process and supervises it until Stop. It
// returns once the process has been started, or with the error that kept it
// from starting (ErrInvalidSpec, ErrAlreadyRunning, a missing program). ctx
// bounds the start only; the instance lives until Stop.
//
// One supervisor runs at most one Instance of a service version at a time.
func Start(ctx context.Context, spec Spec) (*Instance, error) {
	s, err := spec.normalise()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, dir := range []string{s.LogDir, s.RunDir} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("service %s %s: %w", s.Service, s.Version, err)
		}
	}
	record := filepath.Join(s.RunDir, s.name()+recordSuffix)
	if err := checkNotRunning(s, record); err != nil {
		return nil, err
	}
	port, err := freePort(ctx)
	if err != nil {
		return nil, fmt.Errorf("service %s %s: %w", s.Service, s.Version, err)
	}
	i := &Instance{
		spec: s,
		log: &lumberjack.Logger{
			Filename:   filepath.Join(s.LogDir, s.name()+".log"),
			MaxSize:    s.LogMaxSizeMB,
			MaxBackups: s.LogMaxBackups,
		},
		record: record,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		status: Status{Service: s.Service, Version: s.Version},
		port:   port,
	}
	p, err := i.spawn(port)
	if err != nil {
		i.log.Close()
		return nil, err
	}
	go i.run(p)
	return i, nil
}

// checkNotRunning fails with ErrAlreadyRunning when record names a live
// process group.
func checkNotRunning(s Spec, record string) error {
	r, ok, err := readRecord(record)
	if err != nil || !ok {
		return err
	}
	pids, err := r.liveMembers()
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		return fmt.Errorf("%w: service %s %s runs as process group %d (pids %v), recorded in %s: stop it, or call KillStale if the supervisor that started it is gone",
			ErrAlreadyRunning, s.Service, s.Version, r.pgid, pids, record)
	}
	return nil
}

// Addr returns the loopback address the service was told to listen on,
// "127.0.0.1:PORT". It is the same for every restart unless the port was
// taken while the service was down.
func (i *Instance) Addr() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(i.port))
}

// Status returns a snapshot of the instance.
func (i *Instance) Status() Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	st := i.status
	st.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(i.port))
	if st.LastExit != nil {
		e := *st.LastExit
		st.LastExit = &e
	}
	return st
}

// Pid returns the pid of the service's main process, which leads its
// process group; 0 when no process runs. A metrics.Sampler given it counts
// the whole group.
func (i *Instance) Pid() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.status.Pid
}

// Pids returns the live processes of the service's process group; none
// when no process runs.
func (i *Instance) Pids() ([]int, error) {
	if pgid := i.Pid(); pgid != 0 {
		return groupMembers(pgid)
	}
	return nil, nil
}

// Done is closed when the instance has come to its end: Stopped, or Failed
// after MaxRestarts.
func (i *Instance) Done() <-chan struct{} { return i.done }

// Stop ends the instance: SIGTERM to the process group, SIGKILL to whatever
// is left of it after grace. It returns once the main process has been
// reaped and the group is gone, or with ctx's error when ctx ends first (the
// stop goes on; Done tells when it is over). Stopping a stopped or failed
// instance does nothing; the grace of the first call counts.
func (i *Instance) Stop(ctx context.Context, grace time.Duration) error {
	i.stopOnce.Do(func() {
		i.mu.Lock()
		i.grace = grace
		i.mu.Unlock()
		close(i.stop)
	})
	select {
	case <-i.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping service %s %s: %w", i.spec.Service, i.spec.Version, context.Cause(ctx))
	}
}

// run supervises p and its successors until Stop or MaxRestarts.
func (i *Instance) run(p *process) {
	defer close(i.done)
	defer i.log.Close()
	b := backoff{min: i.spec.MinBackoff, max: i.spec.MaxBackoff, stableAfter: i.spec.StableAfter}
	var exit Exit // how the last process ended, when p is nil: it did not start
	for {
		if p != nil {
			stopping := i.wait(p)
			if err := p.finish(); err != nil {
				i.spec.Logger.Warn("service process group not fully stopped", "service", i.spec.Service, "version", i.spec.Version, "err", err)
			}
			exit = p.exit()
			i.mark("pid %d ended: %v after %v", p.pid, exit, exit.Uptime.Round(time.Millisecond))
			if stopping {
				i.end(Stopped, exit)
				return
			}
		}
		i.mu.Lock()
		restarts := i.status.Restarts
		i.mu.Unlock()
		if i.spec.MaxRestarts > 0 && restarts >= i.spec.MaxRestarts {
			i.spec.Logger.Error("service failed: too many restarts", "service", i.spec.Service, "version", i.spec.Version, "restarts", restarts, "exit", exit.String())
			i.mark("giving up after %d restarts", restarts)
			i.end(Failed, exit)
			return
		}
		delay := b.after(exit.Uptime)
		i.spec.Logger.Warn("service exited; restarting", "service", i.spec.Service, "version", i.spec.Version, "exit", exit.String(), "in", delay)
		i.mark("restarting in %v", delay)
		i.mu.Lock()
		i.status.State = Backoff
		i.status.Pid = 0
		i.status.LastExit = new(exit) // a copy: exit changes on
		i.status.NextStart = time.Now().Add(delay)
		i.mu.Unlock()

		t := time.NewTimer(delay)
		select {
		case <-i.stop:
			t.Stop()
			i.end(Stopped, exit)
			return
		case <-t.C:
		}
		i.mu.Lock()
		i.status.Restarts++
		i.mu.Unlock()
		var err error
		if p, err = i.restart(); err != nil {
			p = nil
			exit = Exit{Time: time.Now(), Code: -1, Err: err}
			i.mark("%v", err)
		}
	}
}

// restart starts the next process, on the same port when it is still free.
func (i *Instance) restart() (*process, error) {
	i.mu.Lock()
	previous := i.port
	i.mu.Unlock()
	port, err := portFor(context.Background(), previous)
	if err != nil {
		return nil, err
	}
	if port != previous {
		i.spec.Logger.Warn("service port was taken while it was down; moving to a new one", "service", i.spec.Service, "version", i.spec.Version, "old", previous, "new", port)
		i.mu.Lock()
		i.port = port
		i.mu.Unlock()
	}
	return i.spawn(port)
}

// spawn starts one process on port.
func (i *Instance) spawn(port int) (*process, error) {
	i.mu.Lock()
	i.status.State = Starting
	i.mu.Unlock()
	i.mark("starting %s %s on 127.0.0.1:%d", i.spec.Service, i.spec.Version, port)
	p, err := spawn(i.spec, port, i.log, i.record)
	if err != nil {
		return nil, err
	}
	if p.recordErr != nil {
		i.spec.Logger.Warn("service process group not recorded; a supervisor killed now would leave it running", "service", i.spec.Service, "version", i.spec.Version, "err", p.recordErr)
	}
	i.spec.Logger.Info("service started", "service", i.spec.Service, "version", i.spec.Version, "pid", p.pid, "port", port)
	i.mark("started pid %d", p.pid)
	i.mu.Lock()
	i.status.State = Running
	i.status.Pid = p.pid
	i.status.Started = p.started
	i.status.NextStart = time.Time{}
	i.mu.Unlock()
	return p, nil
}

// wait waits for p to exit or for Stop. On Stop it sends SIGTERM to the
// group and waits up to the grace period for the whole group to end; the
// rest is for process.finish. It reports whether Stop was called.
func (i *Instance) wait(p *process) (stopping bool) {
	select {
	case <-p.exited:
		return false
	case <-i.stop:
	}
	i.mu.Lock()
	i.status.State = Stopping
	grace := i.grace
	i.mu.Unlock()
	if err := signalGroup(p.pid, syscall.SIGTERM); err != nil {
		i.spec.Logger.Warn("stopping service", "service", i.spec.Service, "version", i.spec.Version, "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	select {
	case <-p.exited:
		// What outlives grace is killed by finish: the error that says so
		// is not news here.
		_ = waitGroupGone(ctx, p.pid)
	case <-ctx.Done():
	}
	return true
}

// end records the final state.
func (i *Instance) end(state State, exit Exit) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.status.State = state
	i.status.Pid = 0
	i.status.NextStart = time.Time{}
	if !exit.Time.IsZero() {
		i.status.LastExit = new(exit)
	}
}

// mark writes one line of the supervisor's own into the service's log.
func (i *Instance) mark(format string, args ...any) {
	fmt.Fprintf(i.log, "%s ferry: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), fmt.Sprintf(format, args...))
}
