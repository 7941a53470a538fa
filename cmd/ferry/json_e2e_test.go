package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"ferry/fixtures"
)

// jsonCommands lists every command of the command line that has a --json
// flag, by its path ("trust list"), from the command definitions.
func jsonCommands(commands []*cli.Command, path string) []string {
	var out []string
	for _, c := range commands {
		name := strings.TrimSpace(path + " " + c.Name)
		for _, f := range c.Flags {
			if slicesContains(f.Names(), "json") {
				out = append(out, name)
			}
		}
		out = append(out, jsonCommands(c.Subcommands, name)...)
	}
	return out
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestJSONOutputs runs every command that has --json through the built
// binary on a real appliance and checks that it prints one JSON value
// whose object keys are all camelCase (no Go field names such as
// "HighWater", no snake_case). A command added with --json and not listed
// here fails the test, so that it gets checked too.
func TestJSONOutputs(t *testing.T) {
	bin := buildFerry(t)
	dir := t.TempDir()
	env := append(os.Environ(), "FERRY_PASSPHRASE=json passphrase")
	ferry := func(args ...string) ([]byte, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			err = errors.New(err.Error() + ": " + stderr.String())
		}
		return stdout.Bytes(), err
	}
	must := func(args ...string) {
		t.Helper()
		if _, err := ferry(args...); err != nil {
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if _, err := fixtures.WriteProject(filepath.Join(dir, "proj-"+v), fixtures.ProjectOptions{Name: "demo-app", Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	must("keys", "generate", "--type", "ecdsa-p256", "--out", "release")
	must("keys", "generate", "--type", "ed25519", "--out", "vendor")
	must("bundle", "create", "-f", "proj-1.0.0/ferry.yaml", "-o", "a.ferry", "--key", "release.key")
	must("bundle", "create", "-f", "proj-1.1.0/ferry.yaml", "-o", "b.ferry", "--key", "release.key", "--base", "a.ferry")
	must("license", "issue", "--key", "vendor.key", "--customer", "ACME", "--product", "demo-app", "--expires", "2099-01-01", "-o", "acme.lic")

	// elsewhere: the command needs a release that names licence keys, or
	// ferry serve running; TestJSONRolloutOutputs runs it.
	const elsewhere = "run by TestJSONRolloutOutputs"
	// In order: each may rely on the ones before it.
	type run struct {
		args []string
		// skip says why the command's JSON is not checked here.
		skip string
	}
	runs := []struct {
		cmd string
		run
	}{
		{"bundle inspect", run{args: []string{"bundle", "inspect", "a.ferry"}}},
		{"verify", run{args: []string{"verify", "a.ferry", "--key", "release.pub"}}},
		{"plan", run{args: []string{"plan", "a.ferry"}}},
		{"install", run{args: []string{"install", "a.ferry", "--root", "root", "--key", "release.pub"}}},
		{"trust list", run{args: []string{"trust", "list", "--root", "root"}}},
		{"update plan", run{args: []string{"update", "plan", "b.ferry", "--root", "root"}}},
		{"update apply", run{args: []string{"update", "apply", "b.ferry", "--root", "root"}}},
		{"status", run{args: []string{"status", "--root", "root"}}},
		{"history", run{args: []string{"history", "--root", "root"}}},
		{"audit", run{args: []string{"audit", "--root", "root"}}},
		{"check", run{args: []string{"check", "--root", "root"}}},
		{"config show", run{args: []string{"config", "show", "--root", "root"}}},
		{"config history", run{args: []string{"config", "history", "--root", "root"}}},
		{"gc", run{args: []string{"gc", "--root", "root"}}},
		{"license inspect", run{args: []string{"license", "inspect", "acme.lic", "--key", "vendor.pub"}}},
		{"license show", run{args: []string{"license", "show", "--root", "root"}}},
		{"license install", run{skip: elsewhere}},
		{"fingerprint", run{args: []string{"fingerprint"}}},
		{"clock show", run{args: []string{"clock", "show", "--root", "root"}}},
		{"version", run{args: []string{"version"}}},
		{"rollout status", run{skip: elsewhere}},
		{"rollout promote", run{skip: elsewhere}},
		{"rollout abort", run{skip: elsewhere}},
		{"rollout pause", run{skip: elsewhere}},
		{"rollout resume", run{skip: elsewhere}},
		{"sites status", run{skip: "run by the sites tests in network namespaces (TestSitesFailoverNetns), which decode it"}},
	}
	listed := map[string]bool{}
	for _, r := range runs {
		listed[r.cmd] = true
	}
	all := jsonCommands(newApp(io.Discard, io.Discard).Commands, "")
	sort.Strings(all)
	for _, c := range all {
		if !listed[c] {
			t.Errorf("ferry %s has --json and is not run by this test: add it", c)
		}
	}
	for _, r := range runs {
		if r.skip != "" {
			t.Logf("ferry %s --json: not checked: %s", r.cmd, r.skip)
			continue
		}
		out, err := ferry(append(r.args, "--json")...)
		if err != nil {
			t.Errorf("ferry %s --json: %v", r.cmd, err)
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(out))
		if err := dec.Decode(&v); err != nil {
			t.Errorf("ferry %s --json: not JSON: %v\n%s", r.cmd, err, out)
			continue
		}
		if dec.More() {
			t.Errorf("ferry %s --json: more than one JSON value:\n%s", r.cmd, out)
		}
		for _, k := range badKeys(v, "") {
			t.Errorf("ferry %s --json: key %s is not camelCase", r.cmd, k)
		}
	}
}

// badKeys returns the paths of object keys that are not camelCase: those
// that start with an upper-case letter or hold an underscore. Keys that
// are data (a component's name, a file's path, a version) pass, and so do
// a service's environment variables (an "env" object), which are the
// user's names.
func badKeys(v any, path string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		data := strings.HasSuffix(path, ".env")
		for k, x := range v {
			if !data && k != "" && (k[0] >= 'A' && k[0] <= 'Z' || strings.Contains(k, "_")) {
				out = append(out, path+"."+k)
			}
			out = append(out, badKeys(x, path+"."+k)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, badKeys(x, path+"[]")...)
		}
	}
	return out
}
