package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ferry/fixtures"
	"ferry/fixtures/load"
	"ferry/rollout/serve"
)

// TestServeKilledMidRollout drives the built binary: ferry serve is killed
// with SIGKILL while a canary waits for approval at 50%; the next ferry
// serve stops what the killed one left running, resumes the rollout at the
// saved step, and `ferry rollout promote` takes it to the end. The audit
// log records every decision and still verifies.
func TestServeKilledMidRollout(t *testing.T) {
	bin := buildFerry(t)
	svcBin := fixtures.BuildTestService(t)
	dir := fixtures.ServiceTempDir(t)
	root := filepath.Join(dir, "root")
	listen := fixtures.FreeTCPAddr(t)
	env := append(os.Environ(), "FERRY_PASSPHRASE=e2e", "FERRY_ROOT="+root)
	ferry := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ferry("keys", "generate", "--type", "ed25519", "--out", "release")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		writeServedProject(t, filepath.Join(dir, v), v, svcBin, listen)
		ferry("bundle", "create", "-f", filepath.Join(v, "ferry.yaml"), "-o", v+".ferry", "--key", "release.key")
	}
	ferry("install", "1.0.0.ferry", "--key", "release.pub")

	startServe := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, "serve", "--tick", "100ms", "--stop-grace", "2s")
		cmd.Dir, cmd.Env = dir, env
		logf, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The first serve was killed with SIGKILL, which its Wait reports.
		t.Cleanup(func() { _ = stopServe(cmd); logf.Close() })
		return cmd
	}
	status := func() []serve.ServiceStatus {
		cmd := exec.Command(bin, "rollout", "status", "--json")
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.Output()
		if err != nil {
			return nil
		}
		var st []serve.ServiceStatus
		_ = json.Unmarshal(out, &st)
		return st
	}
	waitFor := func(what string, ok func([]serve.ServiceStatus) bool) []serve.ServiceStatus {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if st := status(); len(st) == 1 && ok(st) {
				return st
			}
			time.Sleep(100 * time.Millisecond)
		}
		log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		t.Fatalf("waiting for %s; status %+v\nserve log:\n%s", what, status(), log)
		return nil
	}
	atApproval50 := func(st []serve.ServiceStatus) bool {
		r := st[0].Rollout
		return r != nil && r.Phase == "waiting-approval" && r.NewWeight == 50 && len(st[0].Versions) == 2
	}

	first := startServe()
	waitFor("serving 1.0.0", func(st []serve.ServiceStatus) bool { return st[0].Stable == "1.0.0" })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = load.Run(ctx, load.Options{URL: "http://" + listen + "/", Concurrency: 2, Rate: 200, Duration: 5 * time.Minute})
	}()
	ferry("install", "1.1.0.ferry")
	waitFor("approval at 50%", atApproval50)

	// Kill -9: the services it supervised keep running, orphaned.
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second := startServe()
	st := waitFor("the resumed rollout at 50%", atApproval50)
	if st[0].Rollout.Step != 2 {
		t.Fatalf("resumed at step %d, want 2", st[0].Rollout.Step)
	}
	// resume applies only to a paused rollout: refused, with its code.
	cmd := exec.Command(bin, "rollout", "resume", "api")
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != exitRefused {
		t.Fatalf("rollout resume of a rollout that is not paused: exit %d (%v)\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
	out := ferry("rollout", "promote", "api")
	if !strings.Contains(out, "api") {
		t.Fatalf("promote printed %q", out)
	}
	waitFor("the canary to succeed", func(st []serve.ServiceStatus) bool {
		return st[0].Rollout != nil && st[0].Rollout.Phase == "succeeded" && st[0].Stable == "1.1.0"
	})
	audit := ferry("audit", "--verify")
	for _, e := range []string{"rollout.advance", "rollout.wait", "rollout.resumed", "rollout.command", "rollout.succeed"} {
		if !strings.Contains(audit, e) {
			t.Errorf("the audit log has no %s", e)
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
	if !strings.Contains(string(log), "stopped a service left by an earlier ferry serve") {
		t.Errorf("the second serve did not stop what the killed one left:\n%s", log)
	}

	// Stopped as an operator stops it, serve stops every service it runs.
	if err := stopServe(second); err != nil {
		t.Errorf("ferry serve did not stop on SIGTERM: %v", err)
	}
	if left := processesUnder(t, root); len(left) > 0 {
		t.Errorf("processes still running from the appliance after ferry serve stopped: %v", left)
	}
}

// stopServe stops a ferry serve as an operator does, with SIGTERM, and
// waits for it; after 20 seconds it kills it.
func stopServe(cmd *exec.Cmd) error {
	if cmd.ProcessState != nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running 20 s after SIGTERM; killed: %w", <-done)
	}
}

// processesUnder lists the running processes whose executable lies under
// dir, as "pid path".
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, dir+string(filepath.Separator)) {
			found = append(found, e.Name()+" "+exe)
		}
	}
	return found
}

func writeServedProject(t *testing.T, dir, version, svcBin, listen string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svcBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "testservice"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: served, version: %[1]s}
components:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
    services:
      - name: api
        command: [bin/testservice, --listen, "127.0.0.1:${PORT}", --version, "%[1]s"]
        listen: %[2]s
        health: {http: /healthz, interval: 100ms}
        rollout:
          strategy: canary
          steps: [10, 50, 100]
          interval: 300ms
          approval: [50]
          analysis: {errorRate: 5%%, minRequests: 5}
`, version, listen)
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}
