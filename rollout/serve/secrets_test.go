package serve

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/rollout"
)

// TestSmokeOutputIsScrubbed: a smoke test that prints a secret ferry
// serve holds (as one reading its environment through /proc would; the
// test process's /proc/PID/environ cannot be changed, so the command
// prints it itself, spelt so that the bundle does not hold it) fails the
// rollout, and what ferry serve keeps of its output (the rollout's saved
// state and decision, the audit log) holds none of it.
func TestSmokeOutputIsScrubbed(t *testing.T) {
	const secret = "pp-PLANTED-3e71c0"
	t.Setenv("FERRY_PASSPHRASE", secret)
	bg := `        rollout:
          strategy: blue-green
          smoke: [{command: [sh, -c, "echo FERRY_PASSPHRASE=pp-PLANT'ED'-3e71c0; exit 1"]}]
`
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, bg))
	stop := a.serve(100 * time.Millisecond)
	a.install(a.bundle("1.1.0", nil, bg))
	st := a.waitStatus("the rollout to abort", phase(rollout.PhaseAborted), 60*time.Second)
	a.waitCurrent("1.0.0")
	stop()
	t.Logf("abort: %s", st[0].Rollout.AbortCause)
	raw, err := os.ReadFile(filepath.Join(a.root, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("PLANTED")) {
		t.Fatal("state.db holds the passphrase the smoke test printed")
	}
	if !bytes.Contains(raw, []byte("FERRY_PASSPHRASE=[redacted]")) {
		t.Fatal("the smoke test's output is not in state.db: the test did not test")
	}
}
