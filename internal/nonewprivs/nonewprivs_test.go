package nonewprivs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestStartSetsNoNewPrivs: the started process has the bit; ferry's own
// threads do not.
func TestStartSetsNoNewPrivs(t *testing.T) {
	cmd := exec.Command("/bin/cat", "/proc/self/status")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := statusField(t, out.String(), "NoNewPrivs"); got != "1" {
		t.Fatalf("child NoNewPrivs = %q, want 1", got)
	}
	// What ferry starts otherwise stays without the bit, from whatever
	// thread it is started. (The thread that started the child ends with
	// its goroutine, or, if it was the main thread, is parked for good: it
	// runs no other goroutine either way.)
	var wg sync.WaitGroup
	status := make([]string, 2*runtime.GOMAXPROCS(0)+4)
	for i := range status {
		wg.Go(func() {
			out, err := exec.Command("/bin/cat", "/proc/self/status").Output()
			if err != nil {
				t.Error(err)
				return
			}
			status[i] = string(out)
		})
	}
	wg.Wait()
	for i, st := range status {
		if st != "" && statusField(t, st, "NoNewPrivs") != "0" {
			t.Fatalf("plain child %d has NoNewPrivs set: the bit leaked into ferry's own threads", i)
		}
	}
}

// TestSetuidProgramGainsNothing is the attack: a service run as an
// unprivileged user executes a set-user-id-root program to become root.
// Started through Start, the program keeps the service's user.
func TestSetuidProgramGainsNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a setuid-root program and to run as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil { // t.TempDir's parent is 0700
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "id")
	copyFile(t, "/usr/bin/id", prog)
	if err := os.Chmod(prog, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	run := func(start func(*exec.Cmd) error) string {
		t.Helper()
		cmd := exec.Command(prog, "-u")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := start(cmd); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s: %v: %s", prog, err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
	// Without the bit the program becomes root: the attack works on this
	// file system, so the test below means something.
	if got := run((*exec.Cmd).Start); got != "0" {
		t.Skipf("a setuid-root program run as nobody has euid %s here (a nosuid mount?): nothing to defend", got)
	}
	if got := run(Start); got != nobody.Uid {
		t.Fatalf("with no_new_privs the setuid-root program runs with euid %s, want %s (nobody)", got, nobody.Uid)
	}
}

func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in status:\n%s", name, status)
	return ""
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
