package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/fixtures"
	"ferry/rollout/serve"
)

// appliance is an appliance root driven through the built binary, with
// test service projects to build bundles from, for the end-to-end tests
// of ferry serve, rollouts and waiting for them.
type appliance struct {
	t      *testing.T
	bin    string
	svcBin string
	dir    string
	root   string
	listen string
	env    []string
	// licenseKey, when set, is a public key file the bundles name as
	// their licence key (not required).
	licenseKey string
}

func newAppliance(t *testing.T) *appliance {
	t.Helper()
	dir := fixtures.ServiceTempDir(t)
	a := &appliance{
		t: t, bin: buildFerry(t), svcBin: fixtures.BuildTestService(t), dir: dir,
		root: filepath.Join(dir, "root"), listen: fixtures.FreeTCPAddr(t),
	}
	a.env = append(os.Environ(), "FERRY_PASSPHRASE=e2e", "FERRY_ROOT="+a.root)
	a.ferry("keys", "generate", "--type", "ed25519", "--out", "release")
	return a
}

// run runs ferry and returns its combined output and exit code.
func (a *appliance) run(args ...string) (string, int) {
	a.t.Helper()
	cmd := exec.Command(a.bin, args...)
	cmd.Dir, cmd.Env = a.dir, a.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		a.t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// ferry runs ferry and fails the test unless it succeeds.
func (a *appliance) ferry(args ...string) string {
	a.t.Helper()
	out, code := a.run(args...)
	if code != 0 {
		a.t.Fatalf("ferry %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// bundle builds VERSION.ferry: the test service answering with version,
// started with args, rolled out by the rollout spec given (YAML, indented
// for the service's rollout: key).
func (a *appliance) bundle(version, rollout string, args ...string) string {
	a.t.Helper()
	dir := filepath.Join(a.dir, version)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		a.t.Fatal(err)
	}
	data, err := os.ReadFile(a.svcBin)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "testservice"), data, 0o755); err != nil {
		a.t.Fatal(err)
	}
	license := ""
	if a.licenseKey != "" {
		key, err := os.ReadFile(filepath.Join(a.dir, a.licenseKey))
		if err != nil {
			a.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "license.pub"), key, 0o644); err != nil {
			a.t.Fatal(err)
		}
		license = "license: {keys: [license.pub]}\n"
	}
	command := []string{"bin/testservice", "--listen", "127.0.0.1:${PORT}", "--version", version}
	command = append(command, args...)
	quoted, _ := json.Marshal(command)
	spec := fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: served, version: %s}
%scomponents:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
    services:
      - name: api
        command: %s
        listen: %s
        health: {http: /healthz, interval: 100ms}
        rollout:
%s
`, version, license, quoted, a.listen, rollout)
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		a.t.Fatal(err)
	}
	out := version + ".ferry"
	a.ferry("bundle", "create", "-f", filepath.Join(version, "ferry.yaml"), "-o", out, "--key", "release.key")
	return out
}

// serve starts ferry serve with a short tick, logging to serve.log, and
// stops it (SIGTERM) when the test ends. env is added to the appliance's.
func (a *appliance) serve(env ...string) *exec.Cmd {
	a.t.Helper()
	return a.serveTick("100ms", env...)
}

// serveTick is serve with another --tick: how often ferry serve analyses
// rollouts and looks for a new current release.
func (a *appliance) serveTick(tick string, env ...string) *exec.Cmd {
	a.t.Helper()
	cmd := exec.Command(a.bin, "serve", "--tick", tick, "--stop-grace", "2s")
	cmd.Dir, cmd.Env = a.dir, append(append([]string(nil), a.env...), env...)
	logf, err := os.OpenFile(filepath.Join(a.dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		a.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { _ = stopServe(cmd); logf.Close() })
	return cmd
}

// status is `ferry rollout status --json`, nil when serve does not answer.
func (a *appliance) status() []serve.ServiceStatus {
	cmd := exec.Command(a.bin, "rollout", "status", "--json")
	cmd.Dir, cmd.Env = a.dir, a.env
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var st []serve.ServiceStatus
	_ = json.Unmarshal(out, &st)
	return st
}

// waitFor polls the status until ok holds, for at most two minutes (a
// bound against a hang, not a measurement).
func (a *appliance) waitFor(what string, ok func([]serve.ServiceStatus) bool) []serve.ServiceStatus {
	a.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if st := a.status(); len(st) == 1 && ok(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.t.Fatalf("waiting for %s; status %+v\nserve log:\n%s", what, a.status(), a.serveLog())
	return nil
}

func (a *appliance) serveLog() string {
	log, _ := os.ReadFile(filepath.Join(a.dir, "serve.log"))
	return string(log)
}

// serving reports whether the service runs version v as its stable one.
func serving(v string) func([]serve.ServiceStatus) bool {
	return func(st []serve.ServiceStatus) bool { return st[0].Stable == v }
}

// current is the appliance's current release from `ferry status --json`,
// "" while it cannot be read (an install or rollback holds the appliance).
func (a *appliance) current() string {
	out, code := a.run("status", "--json")
	var st struct{ Current string }
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		return ""
	}
	return st.Current
}
