package installer

import (
	"os"
	"strconv"
	"syscall"
)

// crashEnv names the test hook that kills ferry at the start of its k-th
// journalled step, the way a power cut would: no deferred cleanup runs.
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
