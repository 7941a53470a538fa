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
	"sync"
	"testing"
	"time"

	"ferry/config"
	"ferry/fixtures"
)

// writeGreetingProject writes a project whose one service answers "hello
// from testservice GREETING", GREETING being a site variable, and whose
// template file holds it too.
func writeGreetingProject(t *testing.T, dir, svcBin, listen string) {
	t.Helper()
	for _, d := range []string{"bin", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(svcBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "testservice"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "greeting.conf"), []byte("greeting = {{ .var.greeting | quote }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: greeter, version: 1.0.0}
variables:
  - {name: greeting, type: string, pattern: "[a-z]+", default: one}
  - {name: api_listen, type: address, default: "%[1]s"}
  - {name: token, type: secret}
components:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
      - {src: etc/greeting.conf, dest: etc/greeting.conf, template: true}
    services:
      - name: api
        command: [bin/testservice, --listen, "127.0.0.1:${PORT}", --version, "${var.greeting}"]
        env: {FERRY_TEST_PASSWORD: "${var.token}"}
        listen: ${var.api_listen}
        health: {http: /healthz, interval: 100ms}
`, listen)
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadLoop sends GET / through the service's router, one request after
// another, until stopped (or a bound of requests), counting what failed
// and which greetings answered.
type loadLoop struct {
	mu     sync.Mutex
	ok     int
	failed []string
	seen   map[string]int
	last   string
	stop   chan struct{}
	done   chan struct{}
}

func startLoad(url string) *loadLoop {
	l := &loadLoop{seen: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(l.done)
		for i := 0; i < 200000; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			resp, err := client.Get(url)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %s: %s", resp.Status, body)
				}
			}
			l.mu.Lock()
			if err != nil {
				l.failed = append(l.failed, err.Error())
			} else {
				l.ok++
				g := strings.TrimSpace(strings.TrimPrefix(string(body), "hello from testservice "))
				l.seen[g]++
				l.last = g
			}
			l.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return l
}

// waitFor waits until the service answered greeting, within a bound.
func (l *loadLoop) waitFor(t *testing.T, greeting string, log func() string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		last := l.last
		l.mu.Unlock()
		if last == greeting {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the service did not come to answer %q\n%s", greeting, log())
}

func (l *loadLoop) end() (ok int, failed []string, seen map[string]int) {
	close(l.stop)
	<-l.done
	return l.ok, l.failed, l.seen
}

// TestConfigSetUnderLoad changes the site's configuration of a running
// appliance through the binary: `config set` makes a new revision, which
// ferry serve moves the service to by its blue-green switch while a
// client sends requests through the router, none failing; a refused value
// changes nothing; `config rollback` and `config rollback --to N` return
// to kept revisions the same way.
func TestConfigSetUnderLoad(t *testing.T) {
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
	const secret = "tok-planted-0815"
	ferry("keys", "generate", "--type", "ed25519", "--out", "release")
	writeGreetingProject(t, filepath.Join(dir, "p"), svcBin, listen)
	ferry("bundle", "create", "-f", filepath.Join("p", "ferry.yaml"), "-o", "greeter.ferry", "--key", "release.key")
	if out, code := run([]string{"FERRY_VAR_TOKEN=" + secret}, "install", "greeter.ferry", "--key", "release.pub"); code != 0 {
		t.Fatalf("install: exit %d\n%s", code, out)
	}

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
	t.Cleanup(func() {
		if err := stopServe(serve); err != nil {
			t.Logf("stopping ferry serve: %v", err)
		}
		logf.Close()
	})
	serveLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
		return "serve log:\n" + string(b)
	}
	// Until the router answers, nothing is measured.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + listen + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not answer on %s: %v\n%s", listen, err, serveLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	load := startLoad("http://" + listen + "/")
	load.waitFor(t, "one", serveLog)

	// A refused value changes nothing: no revision, no release directory,
	// the same current release.
	revisions := func() int {
		var list []config.Report
		if err := json.Unmarshal([]byte(ferry("config", "history", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	listReleases := func() string {
		entries, err := os.ReadDir(filepath.Join(root, "releases"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return strings.Join(names, " ")
	}
	beforeRevs, beforeDirs := revisions(), listReleases()
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"greeting=Two2"}, exitConfigAllowed, "variable greeting (from flag --set)"},
		{[]string{"nope=1"}, exitConfigInput, "expected a variable this bundle declares"},
		{[]string{"--values", "missing.yaml"}, exitConfigInput, "missing.yaml"},
	} {
		out, code := run(nil, append([]string{"config", "set"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.says) {
			t.Errorf("config set %v: exit %d, want %d saying %q\n%s", tc.args, code, tc.code, tc.says, out)
		}
	}
	if revs, dirs := revisions(), listReleases(); revs != beforeRevs || dirs != beforeDirs {
		t.Errorf("a refused value changed the appliance: revisions %d -> %d, releases %q -> %q", beforeRevs, revs, beforeDirs, dirs)
	}
	if cur, _ := os.Readlink(filepath.Join(root, "current")); filepath.Base(cur) != "1.0.0" {
		t.Errorf("current is %s after refused values", cur)
	}

	// A secret is refused on the command line, and taken from a file.
	const secret2 = "tok-second-4242"
	if out, code := run(nil, "config", "set", "token="+secret2); code != exitSecretOnArgs || strings.Contains(out, secret2) ||
		!strings.Contains(out, "FERRY_VAR_TOKEN, --values FILE, --set token=@FILE or at the prompt") {
		t.Errorf("config set of a secret on the command line: exit %d, want %d\n%s", code, exitSecretOnArgs, out)
	}
	if revs, dirs := revisions(), listReleases(); revs != beforeRevs || dirs != beforeDirs {
		t.Errorf("a secret refused on the command line changed the appliance: revisions %d -> %d", beforeRevs, revs)
	}

	// config set under load.
	out := ferry("config", "set", "greeting=two")
	if !strings.Contains(out, "revision 2") || !strings.Contains(out, "1.0.0+config.2") {
		t.Errorf("config set said:\n%s", out)
	}
	load.waitFor(t, "two", serveLog)
	var shown config.Report
	if err := json.Unmarshal([]byte(ferry("config", "show", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Revision != 2 || shown.Release != "1.0.0+config.2" {
		t.Errorf("config show after config set: %+v", shown)
	}
	for _, v := range shown.Values {
		if v.Name == "token" && (!v.Set || v.Source.Kind != config.FromPrevious) {
			t.Errorf("the secret did not carry over: %+v", v)
		}
	}
	if conf, err := os.ReadFile(filepath.Join(root, "current", "etc", "greeting.conf")); err != nil || string(conf) != "greeting = \"two\"\n" {
		t.Errorf("rendered file after config set: %q (%v)", conf, err)
	}
	if conf, err := os.ReadFile(filepath.Join(root, "releases", "1.0.0", "etc", "greeting.conf")); err != nil || string(conf) != "greeting = \"one\"\n" {
		t.Errorf("the rendered file of revision 1 changed: %q (%v)", conf, err)
	}
	ferry("check")
	if out := ferry("config", "set", "greeting=two"); !strings.Contains(out, "no value changed") {
		t.Errorf("config set of the values in force:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(secret2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := ferry("config", "set", "greeting=three", "token=@token"); !strings.Contains(out, "changed: greeting, token") || strings.Contains(out, secret2) {
		t.Errorf("config set with a secret from a file:\n%s", out)
	}
	load.waitFor(t, "three", serveLog)
	env := func() map[string]string {
		resp, err := http.Get("http://" + listen + "/env")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep struct{ Env map[string]string }
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
			t.Fatal(err)
		}
		return rep.Env
	}
	if got := env()["FERRY_TEST_PASSWORD"]; got != secret2 {
		t.Errorf("the service has the secret %q, want the new one", got)
	}

	// config rollback: the previous revision, then --to N.
	if out := ferry("config", "rollback"); !strings.Contains(out, "1.0.0+config.2") {
		t.Errorf("config rollback:\n%s", out)
	}
	load.waitFor(t, "two", serveLog)
	if out := ferry("config", "show"); !strings.Contains(out, "revision 2 of release 1.0.0+config.2") {
		t.Errorf("config show after config rollback:\n%s", out)
	}
	ferry("config", "rollback", "--to", "1")
	load.waitFor(t, "one", serveLog)
	if out, code := run(nil, "config", "rollback", "--to", "9"); code != exitNoRelease {
		t.Errorf("config rollback --to 9: exit %d, want %d\n%s", code, exitNoRelease, out)
	}
	// The next revision is numbered after every kept one.
	if out := ferry("config", "set", "greeting=four"); !strings.Contains(out, "revision 4") {
		t.Errorf("config set after rollbacks:\n%s", out)
	}
	load.waitFor(t, "four", serveLog)
	ferry("check")

	ok, failed, seen := load.end()
	// A new address: the service moves there, and the old one closes.
	moved := fixtures.FreeTCPAddr(t)
	ferry("config", "set", "api_listen="+moved)
	deadline = time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + moved + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "hello from testservice four") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not move to %s: %v\n%s", moved, err, serveLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The old router drains its requests in flight, then closes.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + listen + "/")
		if err != nil {
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the old address %s still answers after the service moved", listen)
		}
	}

	if len(failed) > 0 {
		t.Errorf("%d of %d requests failed during the configuration changes, first: %s", len(failed), ok+len(failed), failed[0])
	}
	for _, g := range []string{"one", "two", "three", "four"} {
		if seen[g] == 0 {
			t.Errorf("no answer from greeting %q: %v", g, seen)
		}
	}
	t.Logf("%d requests through the router, none failed: %v", ok, seen)
	audit := ferry("audit")
	if !strings.Contains(audit, "config.applied") || strings.Contains(audit, secret) || strings.Contains(audit, secret2) {
		t.Errorf("audit log: config.applied missing or the secret in it:\n%s", audit)
	}
	if log := serveLog(); strings.Contains(log, secret) || strings.Contains(log, secret2) {
		t.Errorf("ferry serve logged the secret")
	}
}
