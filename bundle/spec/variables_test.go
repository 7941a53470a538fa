package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// varsSpec is the valid spec with variables declared before components
// and used by the api service, its checks and a template file.
func varsSpec(t *testing.T) string {
	t.Helper()
	text := validSpecText(t)
	text = strings.Replace(text, "components:\n", `variables:
  - {name: api_listen, type: address, default: "0.0.0.0:8080", description: public address of the API}
  - {name: replicas, type: int, default: 2, min: 1, max: 20}
  - {name: tls_mode, type: enum, values: [off, on], default: on}
  - {name: db_password, type: secret, required: true}
  - {name: ca_bundle, type: file}
  - {name: timeout, type: duration, default: 30s}
  - {name: verbose, type: bool, default: false}
  - {name: site, type: string, pattern: "[a-z]+", default: lab}
components:
`, 1)
	text = strings.Replace(text, "listen: 127.0.0.1:8080", "listen: ${var.api_listen}", 1)
	text = strings.Replace(text, "env: {LOG_LEVEL: info}", `env: {LOG_LEVEL: info, REPLICAS: "${var.replicas}", DB: "${ferry.db.app}", DATA: "${ferry.data}/x", PW: "${var.db_password}"}`, 1)
	text = strings.Replace(text, "- {command: [bin/api, --self-check]}", `- {command: [bin/api, --self-check, "--site=${var.site}", "${ferry.version}"]}`, 1)
	text = strings.Replace(text, `"http://127.0.0.1:8080/healthz"`, `"http://${var.api_listen}/healthz"`, 1)
	return text
}

func TestVariablesValid(t *testing.T) {
	dir := specTree(t)
	text := varsSpec(t)
	text = strings.Replace(text, `{src: build/api, dest: bin/api, mode: "0755"}`,
		`{src: build/api, dest: bin/api, mode: "0755"}
      - {src: build/api.conf, dest: etc/api.conf, template: true}`, 1)
	writeFile(t, filepath.Join(dir, "build", "api.conf"), "listen = {{ .var.api_listen | quote }}\n{{ if eq .var.tls_mode \"on\" }}tls = true{{ end }}\ndb = {{ .ferry.db.app }}\n{{ range split \",\" .var.site }}site {{ . }}\n{{ end }}")
	writeFile(t, filepath.Join(dir, "charts", "values-airgap.yaml"), "replicas: ${var.replicas}\n")
	s, err := parse([]byte(text), "ferry.yaml", dir, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Variables) != 8 || s.Variables[2].Default == nil || *s.Variables[2].Default != "on" || string(s.Variables[2].Values[0]) != "off" {
		t.Fatalf("variables = %+v", s.Variables)
	}
	if *s.Variables[1].Default != "2" || *s.Variables[1].Min != 1 || !s.Variables[3].Required {
		t.Fatalf("replicas, db_password = %+v %+v", s.Variables[1], s.Variables[3])
	}
	if !s.Components[2].Files[1].Template {
		t.Fatal("template not read")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVariablesInvalid(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		template string // build/api.conf, as a template file
		values   string // charts/values-airgap.yaml
		field    string
		line     int
		msg      string
	}{
		{name: "bad name", old: "name: replicas,", new: "name: Replicas,", field: "variables[1].name", line: 10, msg: "not a variable name"},
		{name: "duplicate", old: "name: replicas,", new: "name: api_listen,", field: "variables[1].name", line: 10, msg: "duplicate variable"},
		{name: "unknown type", old: "type: int,", new: "type: integer,", field: "variables[1].type", line: 10, msg: "not a variable type"},
		{name: "default not an int", old: "default: 2,", new: "default: two,", field: "variables[1].default", line: 10, msg: "expected an integer"},
		{name: "default out of range", old: "default: 2,", new: "default: 21,", field: "variables[1].default", line: 10, msg: "from 1 to 20"},
		{name: "default not in enum", old: "default: on}", new: "default: maybe}", field: "variables[2].default", line: 11, msg: "one of off, on"},
		{name: "enum without values", old: "values: [off, on], ", new: "", field: "variables[2].values", line: 11, msg: "required for an enum"},
		{name: "default not an address", old: `default: "0.0.0.0:8080"`, new: `default: "0.0.0.0"`, field: "variables[0].default", line: 9, msg: "host:port"},
		{name: "secret default", old: "type: secret, required: true", new: "type: secret, default: x", field: "variables[3].default", line: 12, msg: "no default"},
		{name: "min on a string", old: `pattern: "[a-z]+"`, new: "min: 1", field: "variables[7]", line: 16, msg: "min and max bound an int"},
		{name: "bad pattern", old: `pattern: "[a-z]+"`, new: `pattern: "[a-z"`, field: "variables[7].pattern", line: 16, msg: "not a regular expression"},
		{name: "default against pattern", old: "default: lab", new: "default: Lab1", field: "variables[7].default", line: 16, msg: "pattern"},
		{name: "bad duration", old: "default: 30s", new: "default: soon", field: "variables[5].default", line: 14, msg: "duration"},
		{name: "bad bool", old: "default: false", new: "default: no", field: "variables[6].default", line: 15, msg: "true or false"},
		{name: "unknown variable in listen", old: "listen: ${var.api_listen}", new: "listen: ${var.api_listne}", field: "components[2].services[0].listen", line: 36, msg: "${var.api_listne} names no variable"},
		{name: "unknown variable in env", old: `"${var.replicas}"`, new: `"${var.replica}"`, field: "components[2].services[0].env.REPLICAS", line: 35, msg: "names no variable"},
		{name: "unknown database", old: "${ferry.db.app}", new: "${ferry.db.other}", field: "components[2].services[0].env.DB", line: 35, msg: "no database"},
		{name: "unknown built-in", old: "${ferry.data}", new: "${ferry.home}", field: "components[2].services[0].env.DATA", line: 35, msg: "not a built-in"},
		{name: "unclosed", old: "${var.site}", new: "${var.site", field: "components[2].checks[0].command[2]", line: 45, msg: "not closed"},
		{name: "unknown in check url", old: "http://${var.api_listen}/", new: "http://${var.nope}/", field: "components[2].checks[1].http", line: 46, msg: "names no variable"},
		{name: "unknown in template", template: "a = {{ .var.nope }}\n", field: "components[2].files[1].src", msg: "${var.nope} names no variable"},
		{name: "dollar form in template", template: "a\nb = ${var.site}\n", field: "components[2].files[1].src", msg: "api.conf:2: write {{ .var.site }}"},
		{name: "template syntax", template: "a = {{ .var.site \n", field: "components[2].files[1].src", msg: "template"},
		{name: "template unknown function", template: "a = {{ env \"HOME\" }}\n", field: "components[2].files[1].src", msg: "function \"env\" not defined"},
		{name: "template range over number", template: "{{ range 1000000000 }}x{{ end }}\n", field: "components[2].files[1].src", msg: "range over a number"},
		{name: "secret on a command line", old: `"--site=${var.site}"`, new: `"--pw=${var.db_password}"`, field: "components[2].checks[0].command[2]", line: 45, msg: "is a secret: pass it to the service in env"},
		{name: "secret in listen", old: "listen: ${var.api_listen}", new: "listen: ${var.db_password}", field: "components[2].services[0].listen", line: 36, msg: "is a secret"},
		{name: "secret in a template", template: "pw = {{ .var.db_password }}\n", field: "components[2].files[1].src", msg: "is a secret"},
		{name: "secret in chart values", values: "pw: ${var.db_password}\n", field: "components[3].charts[0].values", msg: "values-airgap.yaml:1: ${var.db_password} is a secret"},
		{name: "unknown in chart values", values: "a: 1\nreplicas: ${var.replica}\n", field: "components[3].charts[0].values", msg: "values-airgap.yaml:2: ${var.replica} names no variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := specTree(t)
			text := varsSpec(t)
			if tt.old != "" {
				if !strings.Contains(text, tt.old) {
					t.Fatalf("spec has no %q", tt.old)
				}
				text = strings.Replace(text, tt.old, tt.new, 1)
			}
			if tt.template != "" {
				writeFile(t, filepath.Join(dir, "build", "api.conf"), tt.template)
				text = strings.Replace(text, `{src: build/api, dest: bin/api, mode: "0755"}`,
					`{src: build/api, dest: bin/api, mode: "0755"}
      - {src: build/api.conf, dest: etc/api.conf, template: true}`, 1)
			}
			if tt.values != "" {
				writeFile(t, filepath.Join(dir, "charts", "values-airgap.yaml"), tt.values)
			}
			_, err := parse([]byte(text), "ferry.yaml", dir, Sources{})
			if err == nil {
				t.Fatal("parse succeeded")
			}
			var found *Error
			for _, e := range specErrors(t, err) {
				if e.Field == tt.field && strings.Contains(e.Msg, tt.msg) {
					found = e
				}
			}
			if found == nil {
				t.Fatalf("no error for %q containing %q; got:\n%v", tt.field, tt.msg, err)
			}
			if tt.line != 0 && found.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", found.Line, tt.line, found)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	refs, err := Refs("a ${PORT} ${var.x_1}:${ferry.db.app}${ferry.version} $")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 3 || refs[0].Name != "x_1" || refs[1].Kind != RefFerry || refs[1].Name != "db.app" {
		t.Fatalf("refs = %+v", refs)
	}
	for _, bad := range []string{"${var.}", "${var.X}", "${var.a b}", "${ferry.db.}", "${var.a", "${ferry.x}"} {
		if _, err := Refs(bad); err == nil {
			t.Errorf("Refs(%q) accepted", bad)
		}
	}
}
