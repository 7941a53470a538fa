package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServePrintUnit: `ferry serve --print-unit` writes the unit file
// the repository ships, and names another root when given one.
func TestServePrintUnit(t *testing.T) {
	bin := buildFerry(t)
	shipped, err := os.ReadFile(filepath.Join("..", "..", "dist", "ferry-serve.service"))
	if err != nil {
		t.Fatal(err)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "FERRY_ROOT=") })
	printUnit := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"serve", "--print-unit"}, args...)...)
		cmd.Env = env
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	if out, code := printUnit(); code != 0 || out != string(shipped) {
		t.Fatalf("ferry serve --print-unit: exit %d, and its unit differs from dist/ferry-serve.service:\n%s", code, out)
	}
	out, code := printUnit("--root", "/srv/appliance")
	if code != 0 || !strings.Contains(out, "\nExecStart=/usr/local/bin/ferry serve --root /srv/appliance\n") || !strings.Contains(out, "\nType=notify\n") {
		t.Fatalf("--print-unit --root /srv/appliance: exit %d\n%s", code, out)
	}
	if out, code := printUnit("--root", "/srv/my appliance"); code != exitUsage {
		t.Fatalf("--print-unit with a root systemd would split: exit %d, want %d\n%s", code, exitUsage, out)
	}
}

// TestServeNotify: under a Type=notify unit, ferry serve says READY=1 on
// $NOTIFY_SOCKET once its router listens, feeds the watchdog while its
// controller runs, and says STOPPING=1 on SIGTERM. The test listens on a
// real unixgram socket, as systemd does.
func TestServeNotify(t *testing.T) {
	a := newAppliance(t)
	a.ferry("install", a.bundle("1.0.0", "          strategy: blue-green"), "--key", "release.pub")
	sock := filepath.Join(a.dir, "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msgs := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := l.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	// next waits for a message that starts with want, for at most two
	// minutes (a bound against a hang, not a measurement).
	next := func(want string) string {
		t.Helper()
		timeout := time.After(2 * time.Minute)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("the socket closed before %s", want)
				}
				if strings.HasPrefix(m, want) {
					return m
				}
			case <-timeout:
				t.Fatalf("no %s from ferry serve\n%s", want, a.serveLog())
			}
		}
	}
	cmd := a.serve("NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000")
	ready := next("READY=1")
	if !strings.Contains(ready, "STATUS=serving release 1.0.0") {
		t.Errorf("READY=1 without the status: %q", ready)
	}
	c, err := net.Dial("tcp", a.listen)
	if err != nil {
		t.Fatalf("READY=1 sent before the router listens on %s: %v", a.listen, err)
	}
	c.Close()
	for range 3 {
		next("WATCHDOG=1")
	}
	if err := stopServe(cmd); err != nil {
		t.Fatal(err)
	}
	next("STOPPING=1")
}
