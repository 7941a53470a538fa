//go:build !ferrycrash

package installer

// crashHook reports that this build has no crash-injection hook: a
// release build (see crash.go).
const crashHook = false

// crashStep is 0: never crash.
func crashStep() int { return 0 }

// crashPoint does nothing; the compiler drops its calls.
func (r *run) crashPoint() {}
