package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/fixtures"
	"ferry/installer"
)

// TestSecretLeak drives the built binary: a bundle declares three secret
// variables, and install is given one by --set, one by FERRY_VAR_NAME and
// one by --values. Every secret must reach the service that uses it (its
// environment), and nothing else: not the output of status, history,
// config show, plan, audit or check, not a compliance report in any
// format, not ferry serve's log, not any file under the root (state.db,
// the host key, logs, releases, run records), and not the command line of
// any process while the service runs. Each value is spelt in two halves
// here, so that neither the bundle nor a test's command line holds it.
func TestSecretLeak(t *testing.T) {
	bin := buildFerry(t)
	svcBin := fixtures.BuildTestService(t)
	dir := fixtures.ServiceTempDir(t)
	root := filepath.Join(dir, "root")
	listen := fixtures.FreeTCPAddr(t)
	secrets := map[string]string{
		"db_password": "set-" + "S3CRET-a1f0c9",
		"api_token":   "env-" + "S3CRET-5b7e21",
		"tls_key":     "file-" + "S3CRET-c4d8e3",
	}
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
		writeSecretProject(t, filepath.Join(dir, v), v, svcBin, listen)
		ferry("bundle", "create", "-f", filepath.Join(v, "ferry.yaml"), "-o", v+".ferry", "--key", "release.key")
	}
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte("tls_key: "+secrets["tls_key"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var outputs strings.Builder
	show := func(out string) { outputs.WriteString(out) }
	// --set NAME=@FILE: a secret is refused on the command line.
	if err := os.WriteFile(filepath.Join(dir, "db_password"), []byte(secrets["db_password"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	install := exec.Command(bin, "install", "1.0.0.ferry", "--key", "release.pub", "--values", "site.yaml", "--set", "db_password=@db_password")
	install.Dir, install.Env = dir, append(env, "FERRY_VAR_API_TOKEN="+secrets["api_token"])
	out, err := install.CombinedOutput()
	show(string(out))
	if err != nil {
		t.Fatalf("ferry install: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"status"}, {"status", "--json"},
		{"history"}, {"history", "--json"},
		{"config", "show"}, {"config", "show", "--json"},
		{"plan", "1.1.0.ferry"},
		{"audit"}, {"audit", "--json"}, {"audit", "--verify"},
		{"check"},
	} {
		show(ferry(args...))
	}
	shown := outputs.String()
	for _, name := range []string{"db_password", "api_token", "tls_key"} {
		if !strings.Contains(shown, name) {
			t.Errorf("no output names the secret %s: the commands did not show the configuration", name)
		}
	}
	for _, f := range []string{"markdown", "oscal", "ckl", "cklb"} {
		ferry("compliance", "report", "--format", f, "-o", filepath.Join(dir, "report."+f))
	}

	// ferry serve, until the service has written down its environment.
	serveLog := filepath.Join(dir, "serve.log")
	logf, err := os.Create(serveLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	srv := exec.Command(bin, "serve", "--tick", "100ms", "--stop-grace", "2s")
	srv.Dir, srv.Env, srv.Stdout, srv.Stderr = dir, env, logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopServe(srv) })
	data := installer.DataDir(root, "api")
	var seen []byte
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if seen, err = os.ReadFile(filepath.Join(data, "env")); err == nil && len(seen) > 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(serveLog)
			t.Fatalf("the service wrote no environment: %v\nserve log:\n%s", err, log)
		}
	}
	for name, value := range secrets {
		if !bytes.Contains(seen, []byte("="+value+"\n")) {
			t.Errorf("the service did not receive %s in its environment", name)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		leaks(t, p, b, secrets)
	}
	if err := stopServe(srv); err != nil {
		t.Errorf("serve: %v", err)
	}

	leaks(t, "the commands' output", []byte(shown), secrets)
	// The test's directory (reports, serve's log; the operator's own
	// values file aside) and the root, but for the service's own data.
	walkLeaks(t, dir, root, secrets, "site.yaml", "db_password")
	walkLeaks(t, root, data, secrets)
	if _, err := os.Stat(filepath.Join(root, "state.db")); err != nil {
		t.Fatal(err)
	}
}

// walkLeaks checks every regular file under top, but those under skip
// and those named as except, for secrets.
func walkLeaks(t *testing.T, top, skip string, secrets map[string]string, except ...string) {
	t.Helper()
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p == skip:
			return fs.SkipDir
		case !d.Type().IsRegular() || slices.Contains(except, d.Name()):
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		leaks(t, p, b, secrets)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// leaks fails t for each secret b holds, naming where.
func leaks(t *testing.T, where string, b []byte, secrets map[string]string) {
	t.Helper()
	for name, value := range secrets {
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the secret %s", where, name)
		}
	}
}

// writeSecretProject writes a project whose service api receives three
// secret variables in its environment, and writes that environment to
// its data directory before it starts serving.
func writeSecretProject(t *testing.T, dir, version, svcBin, listen string) {
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
metadata: {name: secret, version: %[1]s}
variables:
  - {name: db_password, type: secret, required: true}
  - {name: api_token, type: secret, required: true}
  - {name: tls_key, type: secret, required: true}
components:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
    services:
      - name: api
        command: [sh, -c, 'env > "$FERRY_DATA/env"; exec bin/testservice --listen "127.0.0.1:$PORT" --version %[1]s']
        env: {DB_PASSWORD: "${var.db_password}", API_TOKEN: "${var.api_token}", TLS_KEY: "${var.tls_key}"}
        listen: %[2]s
        health: {http: /healthz, interval: 100ms}
`, version, listen)
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}
