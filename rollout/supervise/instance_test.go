package supervise

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/fixtures"
)

func TestPortInEnvironmentAndArguments(t *testing.T) {
	t.Setenv("FERRY_TEST_SECRET", "leaked")
	spec := shSpec(t, `echo "env=$PORT arg=$1 svc=$FERRY_SERVICE ver=$FERRY_VERSION decl=$DECL secret=${FERRY_TEST_SECRET:-none} pwd=$(pwd)"; exec sleep 1000`)
	spec.Command = append(spec.Command, "sh", "${PORT}")
	spec.Env = map[string]string{"DECL": "on-${PORT}"}
	i := start(t, spec)
	_, port, _ := net.SplitHostPort(i.Addr())
	if !strings.HasPrefix(i.Addr(), "127.0.0.1:") || port == "0" {
		t.Fatalf("Addr %q", i.Addr())
	}
	want := fmt.Sprintf("env=%s arg=%s svc=svc ver=1 decl=on-%s secret=none pwd=%s", port, port, port, spec.Dir)
	waitLog(t, spec, want)
	st := i.Status()
	if st.State != Running || st.Pid == 0 || st.Addr != i.Addr() {
		t.Errorf("status %+v", st)
	}
	stop(t, i, 10*time.Second)
	if st := i.Status(); st.State != Stopped || st.Pid != 0 || st.LastExit == nil || st.LastExit.Signal != syscall.SIGTERM {
		t.Errorf("after Stop: %+v, last exit %v", st, st.LastExit)
	}
}

func TestRelativeProgramRunsFromReleaseDirectory(t *testing.T) {
	spec := shSpec(t, "")
	bin := filepath.Join(spec.Dir, "bin", "svc")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"svc on $PORT\"\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec.Command = []string{"bin/svc"}
	i := start(t, spec)
	_, port, _ := net.SplitHostPort(i.Addr())
	waitLog(t, spec, "svc on "+port)
}

// TestTestServiceUnderSupervision runs the real test service, told its port
// by the environment and by ${PORT}, and stops it gracefully.
func TestTestServiceUnderSupervision(t *testing.T) {
	bin := testService.Path(t)
	for name, args := range map[string][]string{
		"PORT":    {bin, "--version", "7.0.0"},
		"${PORT}": {bin, "--version", "7.0.0", "--listen", "127.0.0.1:${PORT}"},
	} {
		t.Run(name, func(t *testing.T) {
			spec := shSpec(t, "")
			spec.Command = args
			i := start(t, spec)
			waitLog(t, spec, "listening on "+i.Addr())
			resp, err := http.Get("http://" + i.Addr() + "/")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if v := resp.Header.Get("X-Version"); v != "7.0.0" {
				t.Errorf("X-Version %q", v)
			}
			stop(t, i, 10*time.Second)
			if st := i.Status(); st.LastExit == nil || st.LastExit.Code != 0 {
				t.Errorf("graceful stop ended with %v", st.LastExit)
			}
			waitLog(t, spec, "testservice 7.0.0 stopped")
		})
	}
}

func TestLogsAreWrittenAndRotated(t *testing.T) {
	// About 2.6 MB of output against a 1 MB limit: two rotations, one
	// backup kept.
	spec := shSpec(t, `yes 0123456789 | head -n 240000; echo to-stderr >&2; echo done; exec sleep 1000`)
	spec.LogMaxSizeMB = 1
	spec.LogMaxBackups = 1
	i := start(t, spec)
	waitLog(t, spec, "done")
	if !strings.Contains(readLog(t, spec), "to-stderr") {
		t.Error("standard error is not in the log")
	}
	backups := func() []string {
		m, _ := filepath.Glob(filepath.Join(spec.LogDir, "svc-1-*.log"))
		return m
	}
	fixtures.WaitFor(t, "old backups to be removed", func() bool { return len(backups()) == 1 })
	for _, f := range append(backups(), logPath(spec)) {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over the 1 MB limit", f, info.Size())
		}
	}
	stop(t, i, 10*time.Second)
}

func TestRestartsWithBackoffThenFails(t *testing.T) {
	spec := shSpec(t, `echo run; exit 3`)
	spec.MaxRestarts = 3
	i := start(t, spec)
	select {
	case <-i.Done():
	case <-time.After(guard):
		t.Fatal("the instance never gave up")
	}
	st := i.Status()
	if st.State != Failed || st.Restarts != 3 || st.LastExit == nil || st.LastExit.Code != 3 || st.Pid != 0 {
		t.Errorf("status %+v, last exit %v", st, st.LastExit)
	}
	log := readLog(t, spec)
	if n := strings.Count(log, "run\n"); n != 4 {
		t.Errorf("%d runs, want 4 (the first and 3 restarts):\n%s", n, log)
	}
	if !strings.Contains(log, "exit status 3") || !strings.Contains(log, "giving up after 3 restarts") {
		t.Errorf("log does not tell the exits:\n%s", log)
	}
	stop(t, i, time.Second) // a failed instance stops at once
	if i.Status().State != Failed {
		t.Error("Stop changed a failed instance")
	}
}

func TestRestartsUntilStopped(t *testing.T) {
	spec := shSpec(t, `exit 1`)
	i := start(t, spec)
	fixtures.WaitFor(t, "two restarts", func() bool { return i.Status().Restarts >= 2 })
	stop(t, i, time.Second)
	if st := i.Status(); st.State != Stopped {
		t.Errorf("state %s", st.State)
	}
}

func TestStopDuringBackoff(t *testing.T) {
	spec := shSpec(t, `exit 1`)
	spec.MinBackoff = time.Hour
	spec.MaxBackoff = time.Hour
	i := start(t, spec)
	fixtures.WaitFor(t, "backoff", func() bool { return i.Status().State == Backoff })
	if st := i.Status(); st.NextStart.IsZero() || st.LastExit == nil || st.LastExit.Code != 1 {
		t.Errorf("backoff status %+v", st)
	}
	stop(t, i, time.Second)
	if st := i.Status(); st.State != Stopped || st.Restarts != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestSIGTERMIgnoredIsKilledAfterGrace: a group that ignores SIGTERM is
// killed with SIGKILL once the grace period is over.
func TestSIGTERMIgnoredIsKilledAfterGrace(t *testing.T) {
	spec := shSpec(t, `trap '' TERM; sleep 1000 & echo ready; while :; do wait; done`)
	i := start(t, spec)
	waitLog(t, spec, "ready")
	pids, err := i.Pids()
	if err != nil || len(pids) != 2 {
		t.Fatalf("Pids = %v, %v; want sh and sleep", pids, err)
	}
	pgid := i.Status().Pid
	stop(t, i, 100*time.Millisecond)
	if st := i.Status(); st.LastExit == nil || st.LastExit.Signal != syscall.SIGKILL {
		t.Errorf("ended with %v, want SIGKILL", st.LastExit)
	}
	if left, _ := groupMembers(pgid); len(left) != 0 {
		t.Errorf("processes %v survived Stop", left)
	}
}

// TestStopReachesChildren: SIGTERM goes to the whole group, so children
// that honour it end within grace.
func TestStopReachesChildren(t *testing.T) {
	spec := shSpec(t, `sleep 1000 & sleep 1000 & echo ready; wait`)
	i := start(t, spec)
	waitLog(t, spec, "ready")
	pids, err := i.Pids()
	if err != nil || len(pids) != 3 {
		t.Fatalf("Pids = %v, %v; want sh and two sleeps", pids, err)
	}
	starts := map[int]uint64{}
	for _, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		starts[pid] = st.start
	}
	stop(t, i, guard)
	for pid, start := range starts {
		if alive(pid, start) {
			t.Errorf("pid %d outlived Stop", pid)
		}
	}
	if pids, _ := i.Pids(); len(pids) != 0 {
		t.Errorf("Pids after Stop: %v", pids)
	}
}

// TestCrashKillsWhatTheProcessLeft: when the main process exits on its own,
// the rest of its group is killed before the restart.
func TestCrashKillsWhatTheProcessLeft(t *testing.T) {
	spec := shSpec(t, `sleep 1000 & echo "child=$!"; exit 1`)
	spec.MaxRestarts = 1
	i := start(t, spec)
	<-i.Done()
	children := regexp.MustCompile(`child=(\d+)`).FindAllStringSubmatch(readLog(t, spec), -1)
	if len(children) != 2 {
		t.Fatalf("%d children in the log, want 2", len(children))
	}
	for _, m := range children {
		pid, _ := strconv.Atoi(m[1])
		// The pid could have been given to another process since; only a
		// live "sleep 1000" is the child.
		cmdline, _ := os.ReadFile("/proc/" + m[1] + "/cmdline")
		if alive(pid, 0) && string(cmdline) == "sleep\x001000\x00" {
			t.Errorf("child %d outlived its crashed parent", pid)
		}
	}
}

// TestNoLeaks starts and stops instances and checks that no goroutine of
// the supervisor and no zombie process is left.
func TestNoLeaks(t *testing.T) {
	var mains []int
	for n := range 3 {
		spec := shSpec(t, `sleep 1000 & echo ready; wait`)
		if n == 1 {
			spec.Command = []string{"sh", "-c", "exit 1"} // one in a restart loop
		}
		i, err := Start(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			waitLog(t, spec, "ready")
		}
		mains = append(mains, i.Status().Pid)
		stop(t, i, guard)
	}
	fixtures.WaitFor(t, "supervisor goroutines to end", func() bool { return len(supervisorGoroutines()) == 0 })
	for _, pid := range mains {
		if st, err := readStat(pid); err == nil && st.ppid == os.Getpid() && st.state == 'Z' {
			t.Errorf("pid %d is a zombie of the supervisor", pid)
		}
	}
}

func TestStopReturnsContextErrorButFinishes(t *testing.T) {
	spec := shSpec(t, `trap '' TERM; echo ready; while :; do sleep 1; done`)
	i := start(t, spec)
	waitLog(t, spec, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := i.Stop(ctx, 50*time.Millisecond); err == nil {
		t.Fatal("Stop with a cancelled context returned nil before the group was gone")
	}
	select {
	case <-i.Done():
	case <-time.After(guard):
		t.Fatal("the stop did not go on after Stop returned")
	}
	if i.Status().State != Stopped {
		t.Errorf("state %s", i.Status().State)
	}
}
