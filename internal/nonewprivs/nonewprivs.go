// Package nonewprivs starts processes that can never gain privileges: the
// Linux no_new_privs bit is set on them before they run, so neither a
// set-user-id or set-group-id program nor a file with capabilities that
// they execute runs with more rights than they have. A service that ferry
// runs as an unprivileged user therefore cannot become root again through
// su, sudo, a setuid helper left on the host, or a file capability.
//
// Go's syscall.SysProcAttr has no field for the bit, and setting it on
// ferry itself would also bind ferry and everything else it starts. The bit
// belongs to a thread and is inherited by the processes that thread forks,
// and os/exec forks on the thread of the goroutine that calls Start. So
// Start locks its goroutine to a fresh thread, sets the bit there, starts
// the command from it, and lets the thread end with the goroutine instead
// of returning it to the runtime.
//
// The bit does not stop the child from dropping to the user and groups of
// SysProcAttr.Credential: setuid and setgid take rights away, and happen
// before the child executes its program.
package nonewprivs

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Start starts cmd with no_new_privs set, as cmd.Start does otherwise;
// wait for it with cmd.Wait.
func Start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		// No UnlockOSThread: the thread carries the bit and must not run
		// other goroutines; it exits when this goroutine returns.
		runtime.LockOSThread()
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			errc <- fmt.Errorf("setting no_new_privs for %s: %w", cmd.Path, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}
