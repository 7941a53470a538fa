package installer

// crashEnv names the test hook that kills ferry at its k-th crash point
// (see crashPoint), the way a power cut would: no deferred cleanup runs.
// Crash-loop tests set it; nothing else should. The hook is test-only code
// and is built only with -tags ferrycrash (crash_hook.go), as `make
// test-go` and `make crash` build the tests; a release build has none
// (crash_nohook.go), so no environment variable can kill an installing
// ferry.
const crashEnv = "FERRY_TEST_CRASH_AT_STEP"
