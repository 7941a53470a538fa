package installer

import (
	"os"
	"strconv"
	"syscall"
)

// crashEnv names the test hook that kills ferry at its k-th crash point
// (see crashPoint), the way a power cut would: no deferred cleanup runs.
// Crash-loop tests set it; nothing else should.
const crashEnv = "FERRY_TEST_CRASH_AT_STEP"

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
// ferry: the start of each journalled step, and the commit.
func (r *run) crashPoint() {
	r.mu.Lock()
	r.steps++
	crash := r.crashAt == r.steps
	r.mu.Unlock()
	crashIf(crash)
}
