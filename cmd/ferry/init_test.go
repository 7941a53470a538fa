package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInitBuildsOffline runs the built `ferry init demo`, follows the
// commands it prints with the network closed to Go (GOPROXY=off), and
// then verifies the bundle, installs it into a fresh root and asks the
// installed service for /healthz and /metrics. A second init into the
// same directory is refused with exit 2 and changes nothing.
func TestInitBuildsOffline(t *testing.T) {
	bin := buildFerry(t)
	work := t.TempDir()
	env := append(os.Environ(),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FERRY_PASSPHRASE=init test",
		"GOPROXY=off", "GOWORK=off",
	)
	ferry := func(dir string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return string(out), ee.ExitCode()
		case err != nil:
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		return string(out), 0
	}

	out, code := ferry(work, "init", "demo")
	if code != 0 {
		t.Fatalf("ferry init demo: exit %d\n%s", code, out)
	}
	commands := initPrintedCommands(out)
	if len(commands) == 0 || commands[0] != "cd demo" {
		t.Fatalf("ferry init printed no build commands starting with cd demo:\n%s", out)
	}
	script := strings.Join(commands, " && ")
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir, cmd.Env = work, env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the printed commands failed: %v\n%s\n%s", err, script, b)
	}

	project := filepath.Join(work, "demo")
	bundleFile := filepath.Join(project, "demo-0.1.0.ferry")
	if out, code := ferry(project, "verify", bundleFile, "--key", "release.pub"); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	root := filepath.Join(t.TempDir(), "root")
	if out, code := ferry(project, "install", bundleFile, "--root", root, "--key", "release.pub"); code != 0 {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	for _, p := range []string{"releases/0.1.0/bin/server", "databases/app.db"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("after install: %v", err)
		}
	}
	if out, _ := ferry(project, "bundle", "inspect", bundleFile); !strings.Contains(out, "demo/server:0.1.0") {
		t.Errorf("bundle inspect does not list the image demo/server:0.1.0:\n%s", out)
	}
	initServeInstalled(t, filepath.Join(root, "releases", "0.1.0", "bin", "server"))

	// Init refuses a directory with anything in it, and leaves it alone.
	before, err := os.ReadFile(filepath.Join(project, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if out, code := ferry(work, "init", "demo"); code != exitUsage || !strings.Contains(out, "not empty") {
		t.Errorf("init into a non-empty directory: exit %d, want %d:\n%s", code, exitUsage, out)
	}
	if after, _ := os.ReadFile(filepath.Join(project, "ferry.yaml")); string(after) != string(before) {
		t.Errorf("a refused init changed ferry.yaml")
	}
	if out, code := ferry(project, "init", "ferry.yaml"); code != exitUsage {
		t.Errorf("init onto a file: exit %d, want %d:\n%s", code, exitUsage, out)
	}
}

// initPrintedCommands returns the indented lines under "Build the bundle".
func initPrintedCommands(out string) []string {
	var cmds []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Build the bundle"):
			in = true
		case in && strings.HasPrefix(line, "  "):
			cmds = append(cmds, strings.TrimSpace(line))
		case in && line != "" && len(cmds) > 0:
			return cmds
		}
	}
	return cmds
}

// initServeInstalled starts the installed server as ferry serve would (a
// loopback port in PORT) and asks it for /healthz and /metrics.
func initServeInstalled(t *testing.T, server string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(server, "--listen", addr)
	cmd.Dir = filepath.Dir(filepath.Dir(server))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (int, string, error) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	var status int
	for i := 0; i < 100 && status == 0; i++ { // at most about 10s for the server to listen
		status, _, _ = get("/healthz")
		if status == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if status != http.StatusOK {
		t.Fatalf("installed server /healthz: status %d", status)
	}
	if _, _, err := get("/"); err != nil {
		t.Fatal(err)
	}
	status, body, err := get("/metrics")
	if err != nil || status != http.StatusOK || !strings.Contains(body, "server_requests_total 1") {
		t.Errorf("installed server /metrics: status %d, err %v:\n%s", status, err, body)
	}
}
