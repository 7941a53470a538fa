//go:build ferrycrash

package installer

import (
	"os"
	"strconv"
	"syscall"
)

// crashHook reports that this build has the crash-injection hook: built
// with -tags ferrycrash, as the crash tests are (see crash.go).
const crashHook = true

func crashStep() int {
	n, _ := strconv.Atoi(os.Getenv(crashEnv))
	return n
}

func crashIf(now bool) {
	if now {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL cannot be caught; wait for it
	}
}

// crashPoint counts one more point where the crash-loop tests may kill
// ferry: the start of each journalled step, each release file placed by
// sharing (after it is in place, before its step is journalled done), and
// the commit.
func (r *run) crashPoint() {
	r.mu.Lock()
	r.steps++
	crash := r.crashAt == r.steps
	r.mu.Unlock()
	crashIf(crash)
}
