package supervise

import (
	"fmt"
	"syscall"
	"time"
)

// State is where an instance is in its life.
type State string

const (
	// Starting means a process is being started.
	Starting State = "starting"
	// Running means the process is alive. Whether it serves is for health checks
	// to say.
	Running State = "running"
	// Backoff means the process exited on its own and will be started again at
	// Status.NextStart.
	Backoff State = "backoff"
	// Stopping means Stop was called and the process group is being terminated.
	Stopping State = "stopping"
	// Stopped means Stop finished; the process group is gone. Final.
	Stopped State = "stopped"
	// Failed means the process exited more often than MaxRestarts allows and is
	// not started again. Final.
	Failed State = "failed"
)

// Status is a snapshot of an instance.
type Status struct {
	Service string
	Version string
	State   State
	// Addr is the loopback address the service was told to listen on.
	Addr string
	// Pid is the main process (and process group id), 0 when none runs.
	Pid int
	// Started is when the current process was started.
	Started time.Time
	// Restarts counts the starts after unexpected exits.
	Restarts int
	// NextStart is when the process is started again, in Backoff.
	NextStart time.Time
	// LastExit is how the last process ended, nil before the first exit.
	LastExit *Exit
}

// Exit is how one run of a service's process ended.
type Exit struct {
	Time time.Time
	// Uptime is how long the process ran.
	Uptime time.Duration
	// Code is the exit code, or -1 when the process was killed by a signal
	// or could not be started.
	Code int
	// Signal is the signal that killed the process, or 0.
	Signal syscall.Signal
	// Err says why the process could not be started, or is nil.
	Err error
}

// String says how the process ended, as "exit status 1", "killed by signal
// 9 (killed)" or "start failed: ...".
func (e Exit) String() string {
	switch {
	case e.Err != nil:
		return "start failed: " + e.Err.Error()
	case e.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%v)", int(e.Signal), e.Signal)
	default:
		return fmt.Sprintf("exit status %d", e.Code)
	}
}
