package metrics

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"ferry/fixtures"
)

// startGroup starts a shell script as the leader of its own process group,
// as the supervisor starts a service, and kills the whole group when the
// test ends.
func startGroup(t *testing.T, script string) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", script, err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return pid
}

func newSampler(t *testing.T) *Sampler {
	t.Helper()
	s, err := NewSampler("")
	if err != nil {
		t.Fatal(err)
	}
	if s.Cores() < 1 || s.MemTotal() < 1<<20 {
		t.Fatalf("sampler reads %d cores and %d bytes of memory", s.Cores(), s.MemTotal())
	}
	return s
}

// TestSamplerBusyChild reads a version whose only busy process is a child
// of the pid the supervisor knows: the child's CPU counts.
func TestSamplerBusyChild(t *testing.T) {
	s := newSampler(t)
	pid := startGroup(t, `sh -c 'while :; do :; done' & wait`)

	var first ProcessSample
	fixtures.WaitFor(t, "the busy child to start", func() bool {
		var err error
		first, err = s.Sample([]int{pid})
		if err != nil {
			t.Fatal(err)
		}
		return first.Processes == 2
	})
	var last ProcessSample
	fixtures.WaitFor(t, "300ms of CPU time", func() bool {
		var err error
		last, err = s.Sample([]int{pid})
		if err != nil {
			t.Fatal(err)
		}
		return last.CPU-first.CPU >= 300*time.Millisecond
	})
	u := s.Usage(first, last)
	// One busy loop uses at most one core of the machine.
	if maxPercent := 100/float64(s.Cores()) + 10; u.CPUPercent <= 0 || u.CPUPercent > maxPercent {
		t.Errorf("CPU %.1f%% of the machine for one busy loop on %d cores, want above 0 and at most %.1f", u.CPUPercent, s.Cores(), maxPercent)
	}
	if u.Processes != 2 {
		t.Errorf("found %d processes, want 2 (the shell and its busy child)", u.Processes)
	}
	if u.RSS <= 0 || u.RSS > 1<<30 || u.MemPercent <= 0 || u.MemPercent >= 100 {
		t.Errorf("RSS %d bytes, %.3f%% of memory: not what two shells use", u.RSS, u.MemPercent)
	}
}

// TestSamplerProcessGroup finds a daemonized process (its parent exited)
// through the process group its service leads.
func TestSamplerProcessGroup(t *testing.T) {
	s := newSampler(t)
	pid := startGroup(t, `(sleep 60 &); exec sleep 61`)
	fixtures.WaitFor(t, "the orphaned sleep and the service", func() bool {
		got, err := s.Sample([]int{pid})
		if err != nil {
			t.Fatal(err)
		}
		return got.Processes == 2
	})
	idle, err := s.Sample([]int{pid})
	if err != nil {
		t.Fatal(err)
	}
	if idle.RSS <= 0 {
		t.Errorf("RSS of two sleeps = %d", idle.RSS)
	}
}

// TestProcessTableSamplesMany: one scan samples several groups, each as
// Sample would, and nothing of one group in another.
func TestProcessTableSamplesMany(t *testing.T) {
	s := newSampler(t)
	a := startGroup(t, `(sleep 60 &); exec sleep 61`)
	b := startGroup(t, `sleep 62 & sleep 63 & wait`)
	var table *ProcessTable
	fixtures.WaitFor(t, "both groups", func() bool {
		var err error
		if table, err = s.Scan(); err != nil {
			t.Fatal(err)
		}
		return table.Sample([]int{a}).Processes == 2 && table.Sample([]int{b}).Processes == 3
	})
	both := table.Sample([]int{a, b})
	if both.Processes != 5 || both.RSS != table.Sample([]int{a}).RSS+table.Sample([]int{b}).RSS {
		t.Errorf("both groups: %+v", both)
	}
	if none := table.Sample(nil); none.Processes != 0 {
		t.Errorf("no pids: %+v", none)
	}
}

func TestSamplerNoProcesses(t *testing.T) {
	s := newSampler(t)
	for _, pids := range [][]int{nil, {0, -1}, {1 << 30}} {
		got, err := s.Sample(pids)
		if err != nil {
			t.Fatalf("Sample(%v): %v", pids, err)
		}
		if got.Processes != 0 || got.CPU != 0 || got.RSS != 0 {
			t.Errorf("Sample(%v) = %+v, want nothing", pids, got)
		}
	}
	u := s.Usage(ProcessSample{At: time.Now(), CPU: time.Second}, ProcessSample{At: time.Now().Add(time.Second)})
	if u.CPUPercent != 0 {
		t.Errorf("CPU time that went down gives %.1f%%, want 0", u.CPUPercent)
	}
}

func TestNewSamplerNotProc(t *testing.T) {
	if _, err := NewSampler(t.TempDir()); err == nil {
		t.Fatal("NewSampler on an empty directory succeeded")
	}
}
