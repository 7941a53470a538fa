package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testenv"
	"ferry/rollout/serve"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the --json shapes (testdata/json)")

// TestJSONRolloutOutputs runs the --json commands TestJSONOutputs cannot
// (every `ferry rollout` command, with ferry serve running a canary, and
// `license install`, which needs a release that names licence keys)
// through the built binary, and holds the shape of each output, its keys
// and the types of their values, to a golden file in testdata/json
// (go test -run TestJSONRolloutOutputs -update rewrites them); every key
// must be camelCase. The values themselves (times, addresses, metrics)
// differ from run to run and are not compared. It also checks that the
// plain `rollout status` of a rollout waiting for approval names the
// command that approves once.
func TestJSONRolloutOutputs(t *testing.T) {
	a := newAppliance(t)
	a.ferry("keys", "generate", "--type", "ed25519", "--out", "vendor")
	a.licenseKey = "vendor.pub"
	a.ferry("install", a.bundle("1.0.0", canaryRollout("[50]")), "--key", "release.pub")
	a.ferry("license", "issue", "--key", "vendor.key", "--customer", "ACME", "--product", "served", "--expires", "2099-01-01", "-o", "acme.lic")
	checkJSONShape(t, "license install", a.ferry("license", "install", "acme.lic", "--json"))

	a.serve()
	a.waitFor("serving 1.0.0", serving("1.0.0"))
	a.traffic()
	a.ferry("install", a.bundle("1.1.0", canaryRollout("[50]")))
	atApproval := func(v string) func([]serve.ServiceStatus) bool {
		return func(st []serve.ServiceStatus) bool {
			r := st[0].Rollout
			return r != nil && r.New == v && r.Phase == "waiting-approval" && len(st[0].Versions) == 2
		}
	}
	a.waitFor("1.1.0 waiting for approval", atApproval("1.1.0"))
	checkJSONShape(t, "rollout status", a.ferry("rollout", "status", "--json"))
	plain := a.ferry("rollout", "status", "api")
	if n := strings.Count(plain, "ferry rollout promote api"); n != 1 {
		t.Errorf("rollout status of a rollout waiting for approval names the command that approves %d times, want once:\n%s", n, plain)
	}
	checkJSONShape(t, "rollout pause", a.ferry("rollout", "pause", "api", "--json"))
	checkJSONShape(t, "rollout resume", a.ferry("rollout", "resume", "api", "--json"))
	checkJSONShape(t, "rollout promote", a.ferry("rollout", "promote", "api", "--json"))
	a.waitFor("serving 1.1.0", serving("1.1.0"))

	a.ferry("install", a.bundle("1.2.0", canaryRollout("[50]")))
	a.waitFor("1.2.0 waiting for approval", atApproval("1.2.0"))
	checkJSONShape(t, "rollout abort", a.ferry("rollout", "abort", "api", "--json"))
}

// checkJSONShape checks that out is one JSON value and compares its
// shape with testdata/json/CMD.golden (spaces in CMD made underscores).
func checkJSONShape(t *testing.T, cmd, out string) {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil {
		t.Errorf("ferry %s --json: not JSON: %v\n%s", cmd, err, out)
		return
	}
	if dec.More() {
		t.Errorf("ferry %s --json: more than one JSON value:\n%s", cmd, out)
	}
	for _, k := range badKeys(v, "") {
		t.Errorf("ferry %s --json: key %s is not camelCase", cmd, k)
	}
	path := filepath.Join("testdata", "json", strings.ReplaceAll(cmd, " ", "_")+".golden")
	testenv.JSONGolden(t, path, jsonShape(v), *updateGolden)
}

// jsonShape is v with every value replaced by its type's zero ("", 0,
// false) and every array by its first element's shape: what a script
// relies on (keys, nesting, types), without what changes between runs.
func jsonShape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = jsonShape(x)
		}
		return out
	case []any:
		if len(v) == 0 {
			return []any{}
		}
		return []any{jsonShape(v[0])}
	case string:
		return ""
	case float64:
		return 0
	case bool:
		return false
	}
	return v
}

// TestJSONShape holds jsonShape to what the golden files rely on.
func TestJSONShape(t *testing.T) {
	var v any
	if err := json.Unmarshal([]byte(`{"a":"x","b":[{"c":1.5,"d":true},{"e":null}],"f":[],"g":null}`), &v); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(jsonShape(v))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"","b":[{"c":0,"d":false}],"f":[],"g":null}`; !bytes.Equal(got, []byte(want)) {
		t.Fatalf("jsonShape = %s, want %s", got, want)
	}
}
