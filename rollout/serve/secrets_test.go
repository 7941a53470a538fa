package serve

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/bundle/spec"
	"ferry/installer"
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

// TestServiceSecretsDelivered: the secret values the configuration
// resolves for a service reach it in its environment and as its own file
// (FERRY_SECRETS), never on a command line; a smoke test that prints one
// has it scrubbed from the rollout's state and the audit log in
// state.db; the files are gone when ferry serve stops; and nothing under
// the root but what the service itself wrote holds either value.
func TestServiceSecretsDelivered(t *testing.T) {
	// Spelt in two halves, so that neither the bundle nor this test's
	// command line holds them whole.
	envSecret := "pw-ENV-" + "8c1f20"
	fileSecret := "tok-FILE-" + "93ab77"
	a := newAppliance(t)
	a.serviceSecrets = func(ctx context.Context, version, component string, svc spec.Service) (installer.ServiceSecrets, error) {
		if svc.Name != "api" {
			return installer.ServiceSecrets{}, nil
		}
		return installer.ServiceSecrets{Env: map[string]string{"DB_PASSWORD": envSecret},
			Files: map[string][]byte{"api_token": []byte(fileSecret)}}, nil
	}
	build := func(version, smoke string) string {
		dir := a.project("s-" + version)
		return a.build(dir, fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: served, version: %s}
components:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
    services:
      - name: api
        command: [sh, -c, 'env > "$FERRY_DATA/env-%s"; cat "$FERRY_SECRETS/api_token" > "$FERRY_DATA/file-%s"; exec bin/testservice --listen 127.0.0.1:$PORT --version %s']
        listen: %s
        health: {http: /healthz, interval: 100ms, timeout: 1s}
%s`, version, version, version, version, a.listen, smoke), "secrets-"+version+".ferry")
	}
	a.install(build("1.0.0", ""))
	stop := a.start(100 * time.Millisecond)
	one := func(st []ServiceStatus) bool { return len(st) == 1 && st[0].Stable == "1.0.0" }
	a.waitStatus("serving 1.0.0", one, 30*time.Second)
	data := installer.DataDir(a.root, "api")
	env := waitFile(t, filepath.Join(data, "env-1.0.0"))
	dir := installer.SecretsDir(a.root, "api")
	for _, want := range []string{"DB_PASSWORD=" + envSecret + "\n", "FERRY_SECRETS=" + dir + "\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("the service's environment lacks %q:\n%s", want, env)
		}
	}
	if got := waitFile(t, filepath.Join(data, "file-1.0.0")); got != fileSecret {
		t.Errorf("the service read %q from its secret file", got)
	}
	fi, err := os.Lstat(filepath.Join(dir, "api_token"))
	if err != nil || fi.Mode() != 0o400 {
		t.Errorf("secret file: %v %v", fi, err)
	}
	checkCmdlines(t, envSecret, fileSecret)

	// A smoke test of the next release prints the file secret.
	a.install(build("1.1.0", `        rollout:
          strategy: blue-green
          smoke: [{command: [sh, -c, "cat ../../run/secrets/api/api_token; exit 1"]}]
`))
	a.waitStatus("the rollout to abort", func(st []ServiceStatus) bool {
		return len(st) == 1 && st[0].Rollout != nil && st[0].Rollout.Phase == rollout.PhaseAborted
	}, 60*time.Second)
	a.waitCurrent("1.0.0")
	stop()
	if _, err := os.Lstat(filepath.Join(a.root, "run", "secrets")); !os.IsNotExist(err) {
		t.Errorf("run/secrets after serve stopped: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(a.root, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	// Every file under the root but the service's own data directory.
	err = filepath.WalkDir(a.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasPrefix(p, data+string(filepath.Separator)) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range []string{envSecret, fileSecret} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("[redacted]")) {
		t.Fatal("the smoke test's output is not in state.db: the test did not test")
	}
}

// waitFile waits for a file a service writes, and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkCmdlines fails t if the command line of any process holds one of
// secrets.
func checkCmdlines(t *testing.T, secrets ...string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret: %q", p, b)
			}
		}
	}
}
