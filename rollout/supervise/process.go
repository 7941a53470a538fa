package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"ferry/internal/nonewprivs"
)

// drainWait bounds the wait for the log pipe to reach its end after the
// process group is gone. Only a process that left the group (a daemon) and
// kept the pipe can hold it open longer.
const drainWait = 2 * time.Second

// process is one run of a service's command, in its own process group.
type process struct {
	pid     int
	started time.Time
	ended   time.Time // set with state
	record  string    // path of the group record, "" when none was written
	// recordErr says why the group could not be recorded: the process runs,
	// but a supervisor that is killed leaves it for KillStale to miss.
	recordErr error

	out     *os.File      // read end of the output pipe
	drained chan struct{} // closed when out has been copied to its end
	exited  chan struct{} // closed when the process has been reaped
	state   *os.ProcessState
	waitErr error
}

// spawn starts the command with stdout and stderr on one pipe copied to log,
// and records its group in recordPath. The error is about starting only;
// see process.recordErr.
func spawn(s Spec, port int, log io.Writer, recordPath string) (*process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("service %s %s: output pipe: %w", s.Service, s.Version, err)
	}
	args := s.args(port)
	cmd := &exec.Cmd{
		Path:        args[0],
		Args:        args,
		Dir:         s.Dir,
		Env:         s.environ(port),
		Stdout:      w,
		Stderr:      w,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if c := s.Credential; c != nil {
		// An empty, non-nil Groups makes the child call setgroups with
		// none before it drops to the user.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.Uid, Gid: c.Gid, Groups: []uint32{}}
	}
	err = nonewprivs.Start(cmd)
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("starting service %s %s: %w", s.Service, s.Version, err)
	}
	p := &process{
		pid:     cmd.Process.Pid,
		started: time.Now(),
		out:     r,
		drained: make(chan struct{}),
		exited:  make(chan struct{}),
	}
	// The process cannot be reaped before the waiter below runs, so its
	// /proc entry is there to be read.
	rec, err := recordFor(p.pid)
	if err == nil {
		err = writeRecord(recordPath, rec)
	}
	if err == nil {
		p.record = recordPath
	} else {
		p.recordErr = err
	}
	go p.drain(log)
	go func() {
		p.waitErr = cmd.Wait()
		p.ended = time.Now()
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	return p, nil
}

// drain copies the process group's output to log until every writer has
// closed the pipe. Writes to log that fail are dropped rather than stopping
// the copy: a service blocked on a full pipe would hang.
func (p *process) drain(log io.Writer) {
	defer close(p.drained)
	buf := make([]byte, 32<<10) // well below any log size limit
	for {
		n, err := p.out.Read(buf)
		if n > 0 {
			_, _ = log.Write(buf[:n]) // dropped, as said above
		}
		if err != nil {
			return
		}
	}
}

// exit describes how the process ended; call it once p.exited is closed.
func (p *process) exit() Exit {
	e := Exit{Time: p.ended, Uptime: p.ended.Sub(p.started), Code: -1}
	if p.state == nil {
		e.Err = p.waitErr
		return e
	}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal()
		return e
	}
	e.Code = p.state.ExitCode()
	return e
}

// finish ends what is left of the process: kills its group, waits until
// the main process has been reaped, the rest of the group is gone and the
// output copied, and removes the group record.
func (p *process) finish() error {
	err := killGroup(context.Background(), p.pid)
	<-p.exited
	t := time.NewTimer(drainWait)
	select {
	case <-p.drained:
	case <-t.C:
	}
	t.Stop()
	p.out.Close() // unblocks the copy if a runaway process holds the pipe
	<-p.drained
	if p.record != "" {
		if rerr := os.Remove(p.record); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}
