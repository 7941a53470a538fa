package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperRootEnv makes TestHelperSupervisor act as a supervisor for the root
// directory it names.
const helperRootEnv = "FERRY_SUPERVISE_HELPER_ROOT"

func staleSpec(root string) Spec {
	return Spec{
		Service: "api",
		Version: "1.0.0",
		Command: []string{"sh", "-c", `sleep 1000 & echo ready; wait`},
		Dir:     root,
		LogDir:  filepath.Join(root, "logs"),
	}
}

// TestHelperSupervisor is not a test: run by TestKillStale as a separate
// process, it starts a service, says which process group it runs in, and
// waits to be killed.
func TestHelperSupervisor(t *testing.T) {
	root := os.Getenv(helperRootEnv)
	if root == "" {
		return // a child process of TestKillStale, not a test of its own
	}
	spec := staleSpec(root)
	i, err := Start(context.Background(), spec)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	waitLog(t, spec, "ready")
	fmt.Println("pgid", i.Status().Pid)
	select {}
}

// TestKillStale kills a supervisor with SIGKILL, leaving its service's
// process group behind, and checks that the next Start refuses to run the
// same version beside it and that KillStale stops it.
func TestKillStale(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	helper := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperSupervisor$")
	helper.Env = append(os.Environ(), helperRootEnv+"="+root)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = helper.Process.Kill() // the test fails anyway: reap what is left
		_ = helper.Wait()
		t.Fatalf("helper said nothing: %v", err)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait() // "signal: killed", as intended
	pgid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "pgid "))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	// Normally KillStale has killed the group already (ESRCH).
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })

	if left, _ := groupMembers(pgid); len(left) != 2 {
		t.Fatalf("group %d of the killed supervisor holds %v, want sh and sleep", pgid, left)
	}
	spec := staleSpec(root)
	if _, err := Start(ctx, spec); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("Start beside a live stale group: %v, want ErrAlreadyRunning", err)
	}

	runDir := filepath.Join(root, "run")
	stale, err := KillStale(ctx, runDir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || stale[0].Name != "api-1.0.0" || stale[0].Pgid != pgid || len(stale[0].Pids) != 2 {
		t.Errorf("KillStale found %+v", stale)
	}
	if left, _ := groupMembers(pgid); len(left) != 0 {
		t.Errorf("group %d still holds %v", pgid, left)
	}
	if _, err := os.Stat(filepath.Join(runDir, "api-1.0.0.pgid")); !os.IsNotExist(err) {
		t.Errorf("record of the killed group: %v, want it removed", err)
	}

	i, err := Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start after KillStale: %v", err)
	}
	stop(t, i, guard)
}

// TestKillStaleSparesOthers: records that name no group of ours (a recycled
// pid, another boot, garbage) are removed without signalling anything.
func TestKillStaleSparesOthers(t *testing.T) {
	runDir := t.TempDir()
	other := exec.Command("sleep", "1000")
	other.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := other.Process.Kill(); err != nil {
			t.Errorf("killing sleep: %v", err)
		}
		_ = other.Wait() // "signal: killed", as intended
	}()
	rec, err := recordFor(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	recycled, reboot := rec, rec
	recycled.start++
	reboot.boot = "00000000-0000-0000-0000-000000000000"
	files := map[string]string{
		"recycled-1.pgid": recycled.String(),
		"reboot-1.pgid":   reboot.String(),
		"garbage-1.pgid":  "not a record",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(runDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(runDir, "unrelated.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	stale, err := KillStale(context.Background(), runDir, time.Second)
	if err != nil || len(stale) != 0 {
		t.Errorf("KillStale = %+v, %v; want nothing", stale, err)
	}
	if !alive(other.Process.Pid, rec.start) {
		t.Error("KillStale killed a group it did not start")
	}
	for name := range files {
		if _, err := os.Stat(filepath.Join(runDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it removed", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "unrelated.txt")); err != nil {
		t.Errorf("an unrelated file was touched: %v", err)
	}
	if stale, err := KillStale(context.Background(), filepath.Join(runDir, "missing"), time.Second); err != nil || stale != nil {
		t.Errorf("KillStale of a missing directory = %v, %v", stale, err)
	}
}

func TestGroupRecordRoundTrip(t *testing.T) {
	r := groupRecord{pgid: 4242, start: 123456789, boot: bootID()}
	got, err := parseGroupRecord([]byte(r.String()))
	if err != nil || got != r {
		t.Errorf("parse(%q) = %+v, %v", r.String(), got, err)
	}
	for _, bad := range []string{"", "1 2 x", "-5 2 x", "12 -1 x", "12 2", "12 2 x y", "a 2 x"} {
		if _, err := parseGroupRecord([]byte(bad)); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{state: 'S', ppid: 1, pgrp: 4242, start: 987654}); st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}
	self, err := readStat(os.Getpid())
	if err != nil || self.ppid != os.Getppid() || self.pgrp != syscall.Getpgrp() {
		t.Errorf("own stat %+v, %v", self, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", "1 (x) \xff 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (sh) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100\n"))
	f.Add([]byte("1 ()) R 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err != nil {
			return
		}
		if st.state <= ' ' {
			t.Fatalf("%q parsed with state %q", b, st.state)
		}
		// What parses formats back as a stat line that parses the same.
		line := formatStat(st)
		if again, err := parseStat([]byte(line)); err != nil || again != st {
			t.Fatalf("%q parsed as %+v, which formats as %q, parsed as %+v (%v)", b, st, line, again, err)
		}
	})
}

// formatStat writes st as the kernel would write /proc/PID/stat, its
// other fields zero.
func formatStat(st procStat) string {
	f := make([]string, 20)
	for i := range f {
		f[i] = "0"
	}
	f[0], f[1], f[2], f[19] = string(st.state), strconv.Itoa(st.ppid), strconv.Itoa(st.pgrp), strconv.FormatUint(st.start, 10)
	return "4242 (a) b) " + strings.Join(f, " ") + "\n"
}

func FuzzParseGroupRecord(f *testing.F) {
	f.Add([]byte("4242 987654 0f3c2a1b-0000-4000-8000-000000000000\n"))
	f.Add([]byte("1 2 -"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseGroupRecord(b)
		if err != nil {
			return
		}
		if r.pgid <= 1 {
			t.Errorf("accepted process group %d", r.pgid)
		}
		if again, err := parseGroupRecord([]byte(r.String())); err != nil || again != r {
			t.Errorf("%+v does not survive a round trip: %+v, %v", r, again, err)
		}
	})
}
