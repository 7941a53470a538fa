package supervise

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/fixtures"
)

var testService fixtures.TestServiceBinary

func TestMain(m *testing.M) {
	code := m.Run()
	testService.Close()
	os.Exit(code)
}

// guard bounds waits that only guard against a deadlock: no test passes
// or fails on how fast things happen.
const guard = 30 * time.Second

// shSpec is a spec running an sh script in a temporary root laid out like
// an appliance's (logs and run beside each other).
func shSpec(t *testing.T, script string) Spec {
	t.Helper()
	root := t.TempDir()
	return Spec{
		Service:    "svc",
		Version:    "1",
		Command:    []string{"sh", "-c", script},
		Dir:        root,
		LogDir:     filepath.Join(root, "logs"),
		MinBackoff: time.Millisecond,
		MaxBackoff: 4 * time.Millisecond,
	}
}

// start starts spec and stops the instance when the test ends.
func start(t *testing.T, spec Spec) *Instance {
	t.Helper()
	i, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := i.Stop(context.Background(), time.Second); err != nil {
			t.Errorf("stopping %s at the end of the test: %v", spec.Service, err)
		}
	})
	return i
}

// stop stops i, failing the test on error.
func stop(t *testing.T, i *Instance, grace time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := i.Stop(ctx, grace); err != nil {
		t.Fatal(err)
	}
}

func logPath(spec Spec) string {
	return filepath.Join(spec.LogDir, spec.Service+"-"+spec.Version+".log")
}

// readLog returns the instance's current log.
func readLog(t *testing.T, spec Spec) string {
	t.Helper()
	b, err := os.ReadFile(logPath(spec))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// waitLog waits until the log holds s.
func waitLog(t *testing.T, spec Spec, s string) {
	t.Helper()
	fixtures.WaitFor(t, "log line "+strconv.Quote(s), func() bool { return strings.Contains(readLog(t, spec), s) })
}

// alive reports whether pid is a live process (not a zombie) started at
// start ticks after boot (any start when start is 0).
func alive(pid int, start uint64) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X' && (start == 0 || st.start == start)
}

// supervisorGoroutines returns the stacks of goroutines running code of this
// package, other than tests.
func supervisorGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ferry/rollout/supervise.") && !strings.Contains(g, "ferry/rollout/supervise.Test") {
			out = append(out, g)
		}
	}
	return out
}
