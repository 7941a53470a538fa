package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// replaceOnce returns an edit of the valid spec that replaces old with repl,
// failing the test when old is not in it.
func replaceOnce(old, repl string) func(t *testing.T, s string) string {
	return func(t *testing.T, s string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("valid spec has no %q", old)
		}
		return strings.Replace(s, old, repl, 1)
	}
}

func whole(text string) func(t *testing.T, s string) string {
	return func(*testing.T, string) string { return text }
}

func TestParseSpecInvalid(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(t *testing.T, s string) string
		setup func(t *testing.T, dir string)
		field string // the field of the first error
		line  int    // its line; 0 to skip the check
		msg   string // a part of its message
	}{
		{name: "unknown top-level field", edit: func(_ *testing.T, s string) string { return s + "extra: 1\n" },
			field: "extra", line: 42, msg: "unknown field"},
		{name: "unknown nested field", edit: replaceOnce("    optional: true", "    optionl: true"),
			field: "components[3].optionl", line: 39, msg: "unknown field"},
		{name: "unknown field in image mapping", edit: replaceOnce("name: wf/worker:1.4.0}", "nmae: wf/worker:1.4.0}"), //nolint:misspell // a misspelt key is the case
			field: "components[1].images[1].nmae", line: 17, msg: "unknown field"}, //nolint:misspell // a misspelt key is the case
		{name: "unknown field in analysis", edit: replaceOnce("minRequests: 100", "minRequest: 100"),
			field: "components[2].services[0].rollout.analysis.minRequest", line: 34, msg: "unknown field"},
		{name: "wrong type", edit: replaceOnce("    optional: true", "    optional: [yes]"),
			field: "components[3].optional", line: 39, msg: "expected true or false, found a list"},
		{name: "components not a list", edit: whole("apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: a, version: 1.0.0}\ncomponents: x\n"),
			field: "components", line: 4, msg: "expected a list, found a string"},
		{name: "syntax error", edit: replaceOnce("steps: [1, 5, 10, 25, 50, 100]", "steps: [1, 5"),
			line: 32, msg: "]"},
		{name: "duplicate key", edit: replaceOnce("  vendor: Example Corp", "  vendor: Example Corp\n  vendor: Other"),
			line: 7, msg: "already defined"},
		{name: "two documents", edit: func(_ *testing.T, s string) string { return s + "---\nkind: Bundle\n" },
			line: 43, msg: "second YAML document"},
		{name: "empty", edit: whole("# nothing\n"), msg: "empty"},
		{name: "api version", edit: replaceOnce("apiVersion: ferry/v1", "apiVersion: ferry/v2"),
			field: "apiVersion", line: 1, msg: `"ferry/v2" is not supported`},
		{name: "kind missing", edit: replaceOnce("kind: Bundle\n", ""), field: "kind", msg: "is required"},
		{name: "missing name", edit: replaceOnce("  name: workflow-platform\n", ""),
			field: "metadata.name", line: 3, msg: "is required"},
		{name: "bad name", edit: replaceOnce("name: workflow-platform", "name: Workflow_Platform"),
			field: "metadata.name", line: 4, msg: "not a valid name"},
		{name: "long name", edit: replaceOnce("name: workflow-platform", "name: "+strings.Repeat("a", 64)),
			field: "metadata.name", line: 4, msg: "at most 63"},
		{name: "semver two parts", edit: replaceOnce("version: 1.4.0", `version: "1.4"`),
			field: "metadata.version", line: 5, msg: "not a semantic version"},
		{name: "semver leading v", edit: replaceOnce("version: 1.4.0", "version: v1.4.0"),
			field: "metadata.version", line: 5, msg: "not a semantic version"},
		{name: "expires not RFC 3339", edit: replaceOnce("expires: 2027-12-31T00:00:00Z", "expires: 2027-12-31"),
			field: "metadata.expires", line: 7, msg: "RFC 3339"},
		{name: "no components", edit: whole("apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: a, version: 1.0.0}\ncomponents: []\n"),
			field: "components", line: 4, msg: "at least one"},
		{name: "duplicate component", edit: replaceOnce("  - name: charts", "  - name: api"),
			field: "components[3].name", line: 38, msg: `duplicate component "api" (also components[2])`},
		{name: "bad component name", edit: replaceOnce("  - name: charts", "  - name: Charts"),
			field: "components[3].name", line: 38, msg: "not a valid name"},
		{name: "unknown dependency", edit: replaceOnce("dependsOn: [database, images]", "dependsOn: [database, imagez]"),
			field: "components[2].dependsOn[1]", line: 20, msg: `unknown component "imagez"`},
		{name: "self dependency", edit: replaceOnce("dependsOn: [database, images]", "dependsOn: [database, api]"),
			field: "components[2].dependsOn[1]", line: 20, msg: "depends on itself"},
		{name: "dependency twice", edit: replaceOnce("dependsOn: [database, images]", "dependsOn: [database, database]"),
			field: "components[2].dependsOn[1]", line: 20, msg: "listed twice"},
		{name: "cycle", edit: whole(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: cyc, version: 1.0.0}
components:
  - name: a
    dependsOn: [b]
    images: [registry.example.com/x/a:1]
  - name: b
    dependsOn: [c]
    images: [registry.example.com/x/b:1]
  - name: c
    dependsOn: [a]
    images: [registry.example.com/x/c:1]
`), field: "components[0].dependsOn", line: 6, msg: "a -> b -> c -> a"},
		{name: "empty component", edit: replaceOnce("    charts:\n      - {path: charts/platform, values: charts/values-airgap.yaml}\n", ""),
			field: "components[3]", line: 38, msg: "nothing to install"},
		{name: "bad platform", edit: replaceOnce("platforms: [linux/amd64]", "platforms: [linux]"),
			field: "components[1].platforms[0]", line: 14, msg: "os/arch"},
		{name: "path with dot dot", edit: replaceOnce("path: migrations/app", "path: ../migrations/app"),
			field: "components[0].migrations[0].path", line: 12, msg: "leaves the directory"},
		{name: "path with inner dot dot", edit: replaceOnce("path: migrations/app", "path: migrations/../../x"),
			field: "components[0].migrations[0].path", line: 12, msg: "leaves the directory"},
		{name: "absolute path", edit: replaceOnce("src: build/api", "src: /etc/passwd"),
			field: "components[2].files[0].src", line: 22, msg: "absolute"},
		{name: "missing path", edit: replaceOnce("path: charts/platform", "path: charts/nope"),
			field: "components[3].charts[0].path", line: 41, msg: "does not exist"},
		{name: "missing values", edit: replaceOnce("values: charts/values-airgap.yaml", "values: charts/nope.yaml"),
			field: "components[3].charts[0].values", line: 41, msg: "does not exist"},
		{name: "missing values in a list", edit: replaceOnce("values: charts/values-airgap.yaml", "values: [charts/values-airgap.yaml, charts/nope.yaml]"),
			field: "components[3].charts[0].values[1]", line: 41, msg: "does not exist"},
		{name: "values neither string nor list", edit: replaceOnce("values: charts/values-airgap.yaml", "values: {a: b}"),
			field: "components[3].charts[0].values", line: 41, msg: "expected a values file path"},
		{name: "bad release name", edit: replaceOnce("values: charts/values-airgap.yaml", "values: charts/values-airgap.yaml, release: My_Release"),
			field: "components[3].charts[0].release", line: 41, msg: "Helm's rule"},
		{name: "long release name", edit: replaceOnce("values: charts/values-airgap.yaml", "values: charts/values-airgap.yaml, release: "+strings.Repeat("a", 54)),
			field: "components[3].charts[0].release", line: 41, msg: "at most 53"},
		{name: "bad namespace", edit: replaceOnce("values: charts/values-airgap.yaml", "values: charts/values-airgap.yaml, namespace: kube.system"),
			field: "components[3].charts[0].namespace", line: 41, msg: "namespace"},
		{name: "bad chart timeout", edit: replaceOnce("values: charts/values-airgap.yaml", "values: charts/values-airgap.yaml, timeout: soon"),
			field: "components[3].charts[0].timeout", line: 41, msg: "invalid duration"},
		{name: "symlink escaping", setup: func(t *testing.T, dir string) {
			outside := filepath.Join(t.TempDir(), "api")
			if err := os.WriteFile(outside, []byte("x"), 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "build", "api")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, p); err != nil {
				t.Fatal(err)
			}
		}, field: "components[2].files[0].src", line: 22, msg: "symlink outside"},
		{name: "symlinked directory escaping", setup: func(t *testing.T, dir string) {
			outside := t.TempDir()
			if err := os.CopyFS(outside, os.DirFS(filepath.Join(dir, "migrations", "app"))); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "migrations", "app")
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, p); err != nil {
				t.Fatal(err)
			}
		}, field: "components[0].migrations[0].path", line: 12, msg: "symlink outside"},
		{name: "file src is a directory", edit: replaceOnce("src: build/api", "src: build"),
			field: "components[2].files[0].src", line: 22, msg: "not a regular file"},
		{name: "bad mode", edit: replaceOnce(`mode: "0755"`, `mode: "0999"`),
			field: "components[2].files[0].mode", line: 22, msg: "invalid file mode"},
		{name: "setuid mode", edit: replaceOnce(`mode: "0755"`, `mode: "4755"`),
			field: "components[2].files[0].mode", line: 22, msg: "invalid file mode"},
		{name: "unquoted mode", edit: replaceOnce(`mode: "0755"`, `mode: 0755`),
			field: "components[2].files[0].mode", line: 22, msg: "quoted string"},
		{name: "dest with dot dot", edit: replaceOnce("dest: bin/api", "dest: ../bin/api"),
			field: "components[2].files[0].dest", line: 22, msg: "leaves the release directory"},
		{name: "dest not clean", edit: replaceOnce("dest: bin/api", "dest: bin//api"),
			field: "components[2].files[0].dest", line: 22, msg: "not a clean path"},
		{name: "dest absolute", edit: replaceOnce("dest: bin/api", "dest: /bin/api"),
			field: "components[2].files[0].dest", line: 22, msg: "absolute"},
		{name: "dest missing", edit: replaceOnce("dest: bin/api, ", ""),
			field: "components[2].files[0].dest", line: 22, msg: "is required"},
		{name: "duplicate dest across components", edit: replaceOnce("    optional: true\n", "    optional: true\n    files:\n      - {src: build/api, dest: bin/api}\n"),
			field: "components[3].files[0].dest", line: 41, msg: "also written by components[2].files[0].dest"},
		{name: "dest inside another file", edit: replaceOnce("    optional: true\n", "    optional: true\n    files:\n      - {src: build/api, dest: bin/api/x}\n"),
			field: "components[3].files[0].dest", line: 41, msg: `inside "bin/api"`},
		{name: "image with scheme", edit: replaceOnce("registry.example.com/wf/api:1.4.0", "docker://registry.example.com/wf/api:1.4.0"),
			field: "components[1].images[0]", line: 16, msg: "without a scheme"},
		{name: "image not a string", edit: replaceOnce("registry.example.com/wf/api:1.4.0", "42"),
			field: "components[1].images[0]", line: 16, msg: "expected an image source"},
		{name: "oci layout missing", edit: replaceOnce("oci:images/worker:1.4.0", "oci:images/nope:1.4.0"),
			field: "components[1].images[1]", line: 17, msg: "does not exist"},
		{name: "oci layout no dir", edit: replaceOnce("oci:images/worker:1.4.0", "oci:"),
			field: "components[1].images[1]", line: 17, msg: "names no directory"},
		{name: "oci layout escaping", edit: replaceOnce("oci:images/worker:1.4.0", "oci:../worker:1.4.0"),
			field: "components[1].images[1]", line: 17, msg: "leaves the directory"},
		{name: "docker archive is a directory", edit: replaceOnce("docker-archive:images/legacy.tar", "docker-archive:images"),
			field: "components[1].images[2]", line: 18, msg: "not a regular file"},
		{name: "image name with host", edit: replaceOnce("name: wf/worker:1.4.0", "name: registry.example.com/wf/worker:1.4.0"),
			field: "components[1].images[1].name", line: 17, msg: "registry host"},
		{name: "migrations database", edit: replaceOnce("database: app", "database: App"),
			field: "components[0].migrations[0].database", line: 11, msg: "not a valid database name"},
		{name: "migrations database twice", edit: replaceOnce("        path: migrations/app\n", "        path: migrations/app\n      - {database: app, path: migrations/app}\n"),
			field: "components[0].migrations[1].database", line: 13, msg: `database "app" already has migrations`},
		{name: "duplicate service", edit: replaceOnce("    optional: true\n", "    optional: true\n    services:\n      - {name: api, command: [x]}\n"),
			field: "components[3].services[0].name", line: 41, msg: `duplicate service "api"`},
		{name: "service without command", edit: replaceOnce(`        command: [bin/api, --listen, "127.0.0.1:${PORT}"]`+"\n", ""),
			field: "components[2].services[0].command", line: 24, msg: "is required"},
		{name: "bad env name", edit: replaceOnce("env: {LOG_LEVEL: info}", "env: {LOG-LEVEL: info}"),
			field: "components[2].services[0].env.LOG-LEVEL", line: 26, msg: "environment variable"},
		{name: "user not a name", edit: replaceOnce("env: {LOG_LEVEL: info}", "env: {LOG_LEVEL: info}\n        user: \"1000\""),
			field: "components[2].services[0].user", line: 27, msg: "is not a user or group name"},
		{name: "group not a name", edit: replaceOnce("env: {LOG_LEVEL: info}", "env: {LOG_LEVEL: info}\n        group: Wheel"),
			field: "components[2].services[0].group", line: 27, msg: "is not a user or group name"},
		{name: "user misspelt", edit: replaceOnce("env: {LOG_LEVEL: info}", "env: {LOG_LEVEL: info}\n        usr: root"),
			field: "components[2].services[0].usr", line: 27, msg: "unknown field"},
		{name: "bad listen", edit: replaceOnce("listen: 127.0.0.1:8080", `listen: "8080"`),
			field: "components[2].services[0].listen", line: 27, msg: "host:port"},
		{name: "bad listen port", edit: replaceOnce("listen: 127.0.0.1:8080", `listen: "127.0.0.1:99999"`),
			field: "components[2].services[0].listen", line: 27, msg: "port"},
		{name: "health both", edit: replaceOnce("health: {http: /healthz,", "health: {http: /healthz, command: [bin/api, --health],"),
			field: "components[2].services[0].health", line: 28, msg: "both http and command"},
		{name: "health neither", edit: replaceOnce("health: {http: /healthz,", "health: {"),
			field: "components[2].services[0].health", line: 28, msg: "neither http nor command"},
		{name: "health http not a path", edit: replaceOnce("health: {http: /healthz,", "health: {http: healthz,"),
			field: "components[2].services[0].health.http", line: 28, msg: "not a request path"},
		{name: "bad duration", edit: replaceOnce("interval: 30s", "interval: 30x"),
			field: "components[2].services[0].rollout.interval", line: 32, msg: "invalid duration"},
		{name: "duration without unit", edit: replaceOnce("interval: 30s", "interval: 30"),
			field: "components[2].services[0].rollout.interval", line: 32, msg: "invalid duration"},
		{name: "bad percent", edit: replaceOnce("errorRate: 1%", "errorRate: 1"),
			field: "components[2].services[0].rollout.analysis.errorRate", line: 34, msg: "invalid percentage"},
		{name: "percent over 100", edit: replaceOnce("cpu: 80%", "cpu: 180%"),
			field: "components[2].services[0].rollout.analysis.cpu", line: 34, msg: "between 0% and 100%"},
		{name: "steps not increasing", edit: replaceOnce("steps: [1, 5, 10, 25, 50, 100]", "steps: [1, 5, 5, 50, 100]"),
			field: "components[2].services[0].rollout.steps[2]", line: 31, msg: "does not increase"},
		{name: "steps not ending at 100", edit: replaceOnce("steps: [1, 5, 10, 25, 50, 100]", "steps: [10, 50]"),
			field: "components[2].services[0].rollout.steps[1]", line: 31, msg: "ends with 100"},
		{name: "step out of range", edit: replaceOnce("steps: [1, 5, 10, 25, 50, 100]", "steps: [0, 50, 100]"),
			field: "components[2].services[0].rollout.steps[0]", line: 31, msg: "from 1 to 100"},
		{name: "canary without steps", edit: replaceOnce("          steps: [1, 5, 10, 25, 50, 100]\n", ""),
			field: "components[2].services[0].rollout.steps", line: 29, msg: "is required"},
		{name: "blue-green with steps", edit: replaceOnce("strategy: canary", "strategy: blue-green"),
			field: "components[2].services[0].rollout.steps", line: 31, msg: "remove steps"},
		{name: "unknown strategy", edit: replaceOnce("strategy: canary", "strategy: linear"),
			field: "components[2].services[0].rollout.strategy", line: 30, msg: "not a strategy"},
		{name: "approval not a step", edit: replaceOnce("approval: [50]", "approval: [33]"),
			field: "components[2].services[0].rollout.approval[0]", line: 33, msg: "not one of the steps"},
		{name: "rollout without listen", edit: replaceOnce("        listen: 127.0.0.1:8080\n", ""),
			field: "components[2].services[0].listen", line: 24, msg: "required with rollout"},
		{name: "check both", edit: replaceOnce("- {command: [bin/api, --self-check]}", `- {command: [bin/api, --self-check], http: "http://127.0.0.1:8080/"}`),
			field: "components[2].checks[0]", line: 36, msg: "both http and command"},
		{name: "check neither", edit: replaceOnce("- {command: [bin/api, --self-check]}", "- {timeout: 5s}"),
			field: "components[2].checks[0]", line: 36, msg: "neither http nor command"},
		{name: "check relative URL", edit: replaceOnce(`http: "http://127.0.0.1:8080/healthz"`, "http: /healthz"),
			field: "components[2].checks[1].http", line: 37, msg: "absolute http:// or https:// URL"},
		{name: "check empty program", edit: replaceOnce("- {command: [bin/api, --self-check]}", `- {command: ["", --self-check]}`),
			field: "components[2].checks[0].command[0]", line: 36, msg: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := specTree(t)
			text := validSpecText(t)
			if tt.edit != nil {
				text = tt.edit(t, text)
			}
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			s, err := parse([]byte(text), "ferry.yaml", dir, Sources{})
			if err == nil {
				t.Fatalf("parse succeeded: %+v", s)
			}
			errs := specErrors(t, err)
			if len(errs) == 0 {
				t.Fatalf("no Error in %v", err)
			}
			var found *Error
			for _, e := range errs {
				if e.Field == tt.field && strings.Contains(e.Msg, tt.msg) {
					found = e
					break
				}
			}
			if found == nil {
				t.Fatalf("no error for field %q containing %q; got:\n%v", tt.field, tt.msg, err)
			}
			if tt.line != 0 && found.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", found.Line, tt.line, found)
			}
			if found.File != "ferry.yaml" {
				t.Errorf("file = %q", found.File)
			}
			t.Log(err)
		})
	}
}

func TestParseSpecImageForms(t *testing.T) {
	dir := specTree(t)
	text := `apiVersion: ferry/v1
kind: Bundle
metadata: {name: img, version: 0.1.0-rc.1+build.5}
components:
  - name: images
    images:
      - registry.example.com/wf/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      - source: localhost:5000/wf/db:16
      - source: oci:images/worker
        name: worker
      - {source: "docker-archive:images/legacy.tar", name: "wf/legacy:2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
`
	s, err := parse([]byte(text), "ferry.yaml", dir, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Components[0].Images
	want := []Image{
		{Source: "registry.example.com/wf/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{Source: "localhost:5000/wf/db:16"},
		{Source: "oci:images/worker", Name: "worker"},
		{Source: "docker-archive:images/legacy.tar", Name: "wf/legacy:2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("images = %+v\nwant %+v", got, want)
	}
}

func TestParseSpecBlueGreen(t *testing.T) {
	dir := specTree(t)
	text := strings.Replace(validSpecText(t), "          strategy: canary\n          steps: [1, 5, 10, 25, 50, 100]\n", "          strategy: blue-green\n", 1)
	text = strings.Replace(text, "approval: [50]", "approval: [100]", 1)
	if _, err := parse([]byte(text), "ferry.yaml", dir, Sources{}); err != nil {
		t.Fatal(err)
	}
}

func TestComponentOrder(t *testing.T) {
	c := func(name string, deps ...string) Component { return Component{Name: name, DependsOn: deps} }
	tests := []struct {
		name string
		in   []Component
		want []string
		err  string
	}{
		{name: "empty", in: nil, want: nil},
		{name: "spec order when free", in: []Component{c("b"), c("a"), c("c")}, want: []string{"b", "a", "c"}},
		{name: "dependencies first, then spec order",
			in:   []Component{c("api", "database", "images"), c("charts"), c("images"), c("database")},
			want: []string{"charts", "images", "database", "api"}},
		{name: "earliest ready first",
			in:   []Component{c("c"), c("a", "c"), c("b"), c("d", "b")},
			want: []string{"c", "a", "b", "d"}},
		{name: "duplicate dependency counted once", in: []Component{c("a", "b", "b"), c("b")}, want: []string{"b", "a"}},
		{name: "cycle", in: []Component{c("a", "b"), c("b", "c"), c("c", "a")}, err: "a -> b -> c -> a"},
		{name: "cycle named from its earliest member",
			in:  []Component{c("x", "c"), c("c", "a"), c("a", "b"), c("b", "c")},
			err: "c -> a -> b -> c"},
		{name: "self", in: []Component{c("a", "a")}, err: "a -> a"},
		{name: "unknown", in: []Component{c("a", "zz")}, err: `unknown component "zz"`},
		{name: "duplicate", in: []Component{c("a"), c("a")}, err: `duplicate component "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComponentOrder(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(tt.err, "->") && strings.Contains(err.Error(), "x") && tt.name == "cycle named from its earliest member" {
					t.Errorf("cycle names a component outside it: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestComponentOrderDeterministic(t *testing.T) {
	var cs []Component
	for i := range 50 {
		c := Component{Name: "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		if i > 2 {
			c.DependsOn = []string{cs[i/3].Name, cs[i/2].Name}
		}
		cs = append(cs, c)
	}
	first, err := ComponentOrder(cs)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := ComponentOrder(cs)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("order changed:\n%v\n%v", first, again)
		}
	}
	pos := make(map[string]int)
	for i, n := range first {
		pos[n] = i
	}
	for _, c := range cs {
		for _, d := range c.DependsOn {
			if pos[d] >= pos[c.Name] {
				t.Errorf("%s comes before its dependency %s", c.Name, d)
			}
		}
	}
}

// TestParseSpecRolloutRouting: smoke tests, sticky cookie, routing rules
// and the scale-down delay are read, and each mistake names its field.
func TestParseSpecRolloutRouting(t *testing.T) {
	dir := specTree(t)
	base := strings.Replace(validSpecText(t), "          strategy: canary\n          steps: [1, 5, 10, 25, 50, 100]\n",
		"          strategy: blue-green\n          scaleDownDelay: 5s\n          sticky: ferry-track\n"+
			"          smoke: [{http: /healthz}, {command: [bin/api, --self-check]}]\n"+
			"          route: [{header: X-Canary, value: \"1\"}, {client: 10.0.0.0/8}]\n", 1)
	base = strings.Replace(base, "approval: [50]", "approval: [100]", 1)
	s, err := parse([]byte(base), "ferry.yaml", dir, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	var r *Rollout
	for _, c := range s.Components {
		for _, svc := range c.Services {
			if svc.Rollout != nil {
				r = svc.Rollout
			}
		}
	}
	if r == nil || time.Duration(r.ScaleDownDelay) != 5*time.Second || r.Sticky != "ferry-track" || len(r.Smoke) != 2 || len(r.Route) != 2 || r.Route[1].Client != "10.0.0.0/8" {
		t.Fatalf("rollout %+v", r)
	}
	for _, tc := range []struct{ old, new, msg string }{
		{"{http: /healthz}", "{http: healthz}", "is not a request path"},
		{"sticky: ferry-track", "sticky: \"a b\"", "is not a cookie name"},
		{"{client: 10.0.0.0/8}", "{client: ten}", "is not an address range"},
		{"{client: 10.0.0.0/8}", "{value: x}", "matches everything"},
		{"{header: X-Canary, value: \"1\"}", "{header: X-Canary, cookie: c}", "has both header and cookie"},
	} {
		_, err := parse([]byte(strings.Replace(base, tc.old, tc.new, 1)), "ferry.yaml", dir, Sources{})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s -> %s: got %v, want %q", tc.old, tc.new, err, tc.msg)
		}
	}
}

// TestParseSpecServiceAccount: user and group of a service are read and
// carried as written; the default (neither) stays empty for the host to
// decide.
func TestParseSpecServiceAccount(t *testing.T) {
	dir := specTree(t)
	text := strings.Replace(validSpecText(t), "env: {LOG_LEVEL: info}", "env: {LOG_LEVEL: info}\n        user: root\n        group: _app-data", 1)
	s, err := parse([]byte(text), "ferry.yaml", dir, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if svc := s.Components[2].Services[0]; svc.User != "root" || svc.Group != "_app-data" {
		t.Fatalf("user %q, group %q", svc.User, svc.Group)
	}
	s, err = parse([]byte(validSpecText(t)), "ferry.yaml", dir, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if svc := s.Components[2].Services[0]; svc.User != "" || svc.Group != "" {
		t.Fatalf("no user: got user %q, group %q", svc.User, svc.Group)
	}
}

// TestSpecReservedDest: a files: entry whose destination is one of the
// names ferry keeps for itself in a release (.ferry/services/x.json would
// have installed a service definition that plan and inspect never
// showed) is refused at build, with the file and line of the entry.
func TestSpecReservedDest(t *testing.T) {
	for _, dest := range []string{".ferry/services/x.json", ".ferry", "bin/.ferry-tmp-123", ".ferryrc"} {
		t.Run(dest, func(t *testing.T) {
			text := strings.Replace(validSpecText(t), "dest: bin/api", "dest: "+dest, 1)
			_, err := parse([]byte(text), "ferry.yaml", specTree(t), Sources{})
			var found *Error
			for _, e := range specErrors(t, err) {
				if e.Field == "components[2].files[0].dest" && strings.Contains(e.Msg, "ferry's own") {
					found = e
				}
			}
			if found == nil || found.Line != 22 || found.File != "ferry.yaml" {
				t.Fatalf("got %v (%+v), want ferry.yaml:22 components[2].files[0].dest refused as reserved", err, found)
			}
		})
	}
}
