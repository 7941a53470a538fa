package health

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"ferry/internal/nonewprivs"
)

// Command is a Probe that runs a program; exit status 0 passes. The
// program runs as the leader of its own process group, and when the
// check's context ends (its timeout) the whole group is killed, so a
// check that forks cannot linger. Like a service, it starts with
// no_new_privs set, and with a Credential it runs as that user and group
// with no supplementary groups.
type Command struct {
	// Args is the program and its arguments; Args[0] is looked up in
	// PATH when it has no slash.
	Args []string
	// Dir is the working directory; "" is ferry's own.
	Dir string
	// Env is the whole environment of the program, as in os/exec: nil
	// means ferry's own.
	Env []string
	// Credential is the user and group the program runs as, those of the
	// service it checks; nil is ferry's own. Its Groups are ignored.
	Credential *syscall.Credential
}

// waitDelay bounds how long a killed check may hold its output pipes open
// (through a child that escaped the process group) before Check returns
// anyway.
const waitDelay = time.Second

// Check implements Probe.
func (c Command) Check(ctx context.Context) error {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return errors.New("command: no program given")
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	var out prefixWriter
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cr := c.Credential; cr != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: cr.Uid, Gid: cr.Gid, Groups: []uint32{}}
	}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	err := nonewprivs.Start(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("command %q", c.Args)
	if c.Dir != "" {
		where += " in " + c.Dir
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: did not finish: %w", where, ctxErr)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		msg := fmt.Sprintf("%s: %v", where, exit)
		if o := strings.TrimSpace(out.String()); o != "" {
			msg += ": " + o
		}
		return &Failure{Message: msg}
	}
	return fmt.Errorf("%s: %w", where, err)
}
