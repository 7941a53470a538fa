package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/config"
	"ferry/fixtures"
	"ferry/fixtures/testservice"
)

// writeConfiguredProject writes a project whose service, check, template
// file and migrations use the site's variables. Version 1.1.0 adds a
// required variable (region) and one with a default (timeout), drops
// tls_mode and makes replicas an enum.
func writeConfiguredProject(t *testing.T, dir, version, svcBin string) {
	t.Helper()
	for _, d := range []string{"bin", "etc", "migrations/app"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(svcBin)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"migrations/app/001_init.up.sql":   "CREATE TABLE t (id INTEGER);\n",
		"migrations/app/001_init.down.sql": "DROP TABLE t;\n",
		"etc/app.conf":                     "site = {{ .var.site | quote }}\nreplicas = {{ .var.replicas }}\ndb = {{ .ferry.db.app }}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "testservice"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	vars := `  - {name: api_listen, type: address, default: "127.0.0.1:1", description: public address of the API}
  - {name: replicas, type: int, default: 2, min: 1, max: 20}
  - {name: tls_mode, type: enum, values: [off, on], default: on}
  - {name: site, type: string, pattern: "[a-z]+", required: true}
  - {name: db_password, type: secret}
`
	if version != "1.0.0" {
		vars = `  - {name: api_listen, type: address, default: "127.0.0.1:1", description: public address of the API}
  - {name: replicas, type: enum, values: ["2", "4", "8"], default: "2"}
  - {name: site, type: string, pattern: "[a-z]+", required: true}
  - {name: region, type: string, required: true}
  - {name: timeout, type: duration, default: 30s}
  - {name: db_password, type: secret}
`
	}
	spec := fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: configured, version: %[1]s}
variables:
%[2]scomponents:
  - name: db
    migrations:
      - {database: app, path: migrations/app}
  - name: api
    dependsOn: [db]
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
      - {src: etc/app.conf, dest: etc/app.conf, template: true}
    services:
      - name: api
        command: [bin/testservice, --listen, "127.0.0.1:${PORT}", --version, "${ferry.version}"]
        env: {SITE: "${var.site}", REPLICAS: "${var.replicas}", STATE: "${ferry.data}/state", FERRY_TEST_PASSWORD: "pw:${var.db_password}"}
        listen: ${var.api_listen}
        health: {http: /healthz, interval: 100ms}
    checks:
      - {command: [bin/testservice, --self-check]}
`, version, vars)
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSiteConfiguration installs a bundle with variables through the
// binary: every class of refused value with its exit code and nothing
// changed, an install with --values, FERRY_VAR_ and --set, the service
// as ferry serve runs it (its address, environment and database path),
// config show, a hand-edited rendered file found by ferry check, and an
// update that adds a required variable: refused without it, accepted
// with it.
func TestSiteConfiguration(t *testing.T) {
	bin := buildFerry(t)
	svcBin := fixtures.BuildTestService(t)
	dir := fixtures.ServiceTempDir(t)
	root := filepath.Join(dir, "root")
	listen := fixtures.FreeTCPAddr(t)
	baseEnv := append(os.Environ(), "FERRY_PASSPHRASE=e2e", "FERRY_ROOT="+root)
	run := func(extraEnv []string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, append(append([]string{}, baseEnv...), extraEnv...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		return string(out), 0
	}
	ferry := func(args ...string) string {
		t.Helper()
		out, code := run(nil, args...)
		if code != 0 {
			t.Fatalf("ferry %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	ferry("keys", "generate", "--type", "ed25519", "--out", "release")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		writeConfiguredProject(t, filepath.Join(dir, v), v, svcBin)
		ferry("bundle", "create", "-f", filepath.Join(v, "ferry.yaml"), "-o", v+".ferry", "--key", "release.key")
	}
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte("# the site\napi_listen: "+listen+"\nreplicas: 3\nsite: fromfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Each class of refused value, with its code, and nothing installed.
	for _, tc := range []struct {
		args []string
		env  []string
		code int
		says string
	}{
		{nil, nil, exitConfigRequired, "variable site: expected a value (required)"},
		{[]string{"--set", "site=lab", "--set", "replicas=many"}, nil, exitConfigType, `variable replicas (from flag --set): "many": expected an integer`},
		{[]string{"--set", "site=lab", "--set", "api_listen=nohost"}, nil, exitConfigType, "expected an address host:port"},
		{[]string{"--set", "site=lab"}, []string{"FERRY_VAR_REPLICAS=50"}, exitConfigRange, "variable replicas (from env FERRY_VAR_REPLICAS): \"50\": expected an integer from 1 to 20"},
		{[]string{"--set", "site=lab", "--set", "tls_mode=maybe"}, nil, exitConfigAllowed, "expected one of off, on"},
		{[]string{"--set", "site=Lab1"}, nil, exitConfigAllowed, "pattern"},
		{[]string{"--set", "site=lab", "--set", "nope=1"}, nil, exitConfigInput, "variable nope (from flag --set): expected a variable this bundle declares"},
		{[]string{"--values", "missing.yaml"}, nil, exitConfigInput, "missing.yaml"},
	} {
		out, code := run(tc.env, append([]string{"install", "1.0.0.ferry", "--key", "release.pub"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.says) {
			t.Errorf("install %v %v: exit %d, want %d saying %q\n%s", tc.args, tc.env, code, tc.code, tc.says, out)
		}
		if _, err := os.Lstat(filepath.Join(root, "current")); err == nil {
			t.Fatalf("install %v: a release is current after the refusal", tc.args)
		}
	}
	// plan refuses as install does, and shows the values it would use.
	if out, code := run(nil, "plan", "1.0.0.ferry", "--root", root, "--key", "release.pub"); code != exitConfigRequired {
		t.Errorf("plan without site: exit %d\n%s", code, out)
	}
	out := ferry("plan", "1.0.0.ferry", "--root", root, "--key", "release.pub", "--values", site, "--set", "site=lab")
	if !strings.Contains(out, "site.yaml:2") || !strings.Contains(out, `"lab"`) {
		t.Errorf("plan does not show the values and their sources:\n%s", out)
	}

	const secret = "s3cret-planted-4711"
	out, code := run([]string{"FERRY_VAR_REPLICAS=4", "FERRY_VAR_DB_PASSWORD=" + secret}, "install", "1.0.0.ferry", "--key", "release.pub", "--values", site, "--set", "site=lab")
	if code != 0 {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	if strings.Contains(out, secret) || strings.Contains(ferry("config", "show"), secret) || strings.Contains(ferry("config", "show", "--json"), secret) {
		t.Errorf("install or config show printed the secret")
	}
	if db, err := os.ReadFile(filepath.Join(root, "state.db")); err != nil || strings.Contains(string(db), secret) {
		t.Errorf("state.db holds the secret in the clear (%v)", err)
	}
	var shown config.Report
	if err := json.Unmarshal([]byte(ferry("config", "show", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{}
	for _, v := range shown.Values {
		sources[v.Name] = v.Value + " " + v.Source.String()
	}
	for name, want := range map[string]string{
		"api_listen": listen + " from file " + site + ":2",
		"replicas":   "4 from env FERRY_VAR_REPLICAS",
		"tls_mode":   "on from default",
		"site":       "lab from flag --set",
	} {
		if sources[name] != want {
			t.Errorf("config show: %s = %q, want %q", name, sources[name], want)
		}
	}
	if shown.Revision != 1 || shown.Release != "1.0.0" {
		t.Errorf("config show: %+v", shown)
	}
	rendered, err := os.ReadFile(filepath.Join(root, "current", "etc", "app.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("site = \"lab\"\nreplicas = 4\ndb = %s\n", filepath.Join(root, "databases", "app.db")); string(rendered) != want {
		t.Errorf("rendered etc/app.conf:\n%s\nwant:\n%s", rendered, want)
	}
	ferry("check")

	// The service as ferry serve runs it.
	serve := exec.Command(bin, "serve", "--tick", "100ms", "--stop-grace", "2s")
	serve.Dir, serve.Env = dir, baseEnv
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	serve.Stdout, serve.Stderr = logf, logf
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopServe(serve); logf.Close() })
	var rep testservice.Report
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + listen + "/env")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &rep) == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			t.Fatalf("the service did not answer on %s (the listen address the site set): %v\nserve log:\n%s", listen, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := stopServe(serve); err != nil {
		t.Errorf("stopping ferry serve: %v", err)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "serve.log")); strings.Contains(string(log), secret) {
		t.Errorf("ferry serve logged the secret")
	}
	dataDir := filepath.Join(root, "data", "api")
	for k, want := range map[string]string{
		"SITE": "", "REPLICAS": "", // not FERRY_: not reported
		"FERRY_ROOT": root, "FERRY_DATA_DIR": dataDir, "FERRY_DB_APP": filepath.Join(root, "databases", "app.db"),
		"FERRY_VERSION": "1.0.0", "PORT": strings.TrimPrefix(rep.Local, "127.0.0.1:"),
		"FERRY_TEST_PASSWORD": "pw:" + secret,
	} {
		if want != "" && rep.Env[k] != want {
			t.Errorf("service env %s = %q, want %q (report %+v)", k, rep.Env[k], want, rep)
		}
	}
	if !strings.HasPrefix(rep.Local, "127.0.0.1:") || strings.Join(rep.Args, " ") != "--listen "+rep.Local+" --version 1.0.0" {
		t.Errorf("service address %s, args %q", rep.Local, rep.Args)
	}
	if _, ok := rep.Databases["FERRY_DB_APP"]; !ok {
		t.Errorf("service got no FERRY_DB_APP: %+v", rep)
	}

	// A rendered file edited by hand is drift.
	conf := filepath.Join(root, "current", "etc", "app.conf")
	if err := os.Chmod(conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("site = \"evil\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := run(nil, "check"); code != exitDrift || !strings.Contains(out, "etc/app.conf") {
		t.Errorf("check after editing etc/app.conf: exit %d, want %d\n%s", code, exitDrift, out)
	}
	if err := os.WriteFile(conf, rendered, 0o644); err != nil {
		t.Fatal(err)
	}

	// An update that adds a required variable: refused without it,
	// before anything changes; accepted with it.
	if out, code := run(nil, "update", "apply", "1.1.0.ferry"); code != exitConfigRequired || !strings.Contains(out, "variable region") {
		t.Fatalf("update without region: exit %d, want %d\n%s", code, exitConfigRequired, out)
	}
	if cur, _ := os.Readlink(filepath.Join(root, "current")); filepath.Base(cur) != "1.0.0" {
		t.Fatalf("current is %s after the refused update", cur)
	}
	out = ferry("update", "plan", "1.1.0.ferry", "--set", "region=eu")
	if !strings.Contains(out, "region") || !strings.Contains(out, "revision 1, from env FERRY_VAR_REPLICAS") {
		t.Errorf("update plan:\n%s", out)
	}
	ferry("update", "apply", "1.1.0.ferry", "--set", "region=eu")
	if err := json.Unmarshal([]byte(ferry("config", "show", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	sources = map[string]string{}
	for _, v := range shown.Values {
		sources[v.Name] = v.Value + " " + string(v.Source.Kind)
	}
	want := map[string]string{
		"api_listen": listen + " previous", "replicas": "4 previous", "site": "lab previous",
		"region": "eu flag", "timeout": "30s default", "db_password": " previous",
	}
	if shown.Revision != 2 || shown.Release != "1.1.0" || len(sources) != len(want) {
		t.Errorf("config show after the update: %+v", shown)
	}
	for name, w := range want {
		if sources[name] != w {
			t.Errorf("after the update: %s = %q, want %q", name, sources[name], w)
		}
	}
	ferry("check")
	out = ferry("config", "history")
	if !strings.Contains(out, "configuration revision 1 of release 1.0.0") || !strings.Contains(out, "configuration revision 2 of release 1.1.0") {
		t.Errorf("config history:\n%s", out)
	}
	// Rolling back returns to the release with its configuration.
	ferry("rollback")
	if out := ferry("config", "show"); !strings.Contains(out, "revision 1 of release 1.0.0") || !strings.Contains(out, "tls_mode") {
		t.Errorf("config show after rollback:\n%s", out)
	}
	ferry("check")
}
