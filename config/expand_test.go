package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"ferry/bundle/spec"
)

func testConfig(t *testing.T) *Config {
	t.Helper()
	c, err := Resolve(testVars(), Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=pw"}, Set: []string{"api_listen=127.0.0.1:18080", "site=abc"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var testBuiltins = Builtins{Version: "1.4.0", Root: "/srv/ferry", Data: "/srv/ferry/data/api", DBs: map[string]string{"app": "/srv/ferry/data/app.db"}}

func TestExpandService(t *testing.T) {
	c := testConfig(t)
	svc := spec.Service{
		Name:    "api",
		Command: []string{"bin/api", "--listen", "127.0.0.1:${PORT}", "--replicas=${var.replicas}"},
		Env:     map[string]string{"DB": "${ferry.db.app}", "STATE": "${ferry.data}/state", "V": "${ferry.version}@${ferry.root}", "UNSET": "[${var.ca_bundle}]"},
		Listen:  "${var.api_listen}",
		Health:  &spec.Health{HTTP: "/healthz?site=${var.site}"},
		Rollout: &spec.Rollout{Strategy: "blue-green", Smoke: []spec.Check{{Command: []string{"bin/api", "${var.tls_mode}"}}}},
	}
	out, err := c.ExpandService(svc, testBuiltins)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(out.Command, " ") != "bin/api --listen 127.0.0.1:${PORT} --replicas=2" {
		t.Errorf("command = %q", out.Command)
	}
	if out.Env["DB"] != "/srv/ferry/data/app.db" || out.Env["STATE"] != "/srv/ferry/data/api/state" || out.Env["V"] != "1.4.0@/srv/ferry" || out.Env["UNSET"] != "[]" {
		t.Errorf("env = %v", out.Env)
	}
	if out.Listen != "127.0.0.1:18080" || out.Health.HTTP != "/healthz?site=abc" || out.Rollout.Smoke[0].Command[1] != "on" {
		t.Errorf("service = %+v", out)
	}
	if svc.Env["DB"] != "${ferry.db.app}" || svc.Listen != "${var.api_listen}" || svc.Rollout.Smoke[0].Command[1] != "${var.tls_mode}" {
		t.Error("the service given was changed")
	}
	// A value is not expanded again.
	c.Values[5].Value = "${var.replicas}"
	if s, err := c.Expand("${var.site}", testBuiltins); err != nil || s != "${var.replicas}" {
		t.Errorf("Expand = %q, %v", s, err)
	}
	for _, bad := range []string{"${var.nope}", "${ferry.db.other}", "${var.x"} {
		if _, err := c.Expand(bad, testBuiltins); err == nil {
			t.Errorf("Expand(%q) succeeded", bad)
		}
	}
	// A listen address is host:port once expanded.
	if _, err := c.ExpandService(spec.Service{Name: "x", Listen: "${var.site}"}, testBuiltins); err == nil {
		t.Error("listen abc accepted")
	}
}

func TestExpandLines(t *testing.T) {
	c := testConfig(t)
	out, err := c.ExpandLines("values.yaml", []byte("replicas: ${var.replicas}\nimage: ${PORT}\n"), testBuiltins)
	if err != nil || string(out) != "replicas: 2\nimage: ${PORT}\n" {
		t.Fatalf("ExpandLines = %q, %v", out, err)
	}
	if _, err := c.ExpandLines("values.yaml", []byte("a: 1\nb: ${var.nope}\n"), testBuiltins); err == nil || !strings.Contains(err.Error(), "values.yaml:2") {
		t.Errorf("err = %v", err)
	}
}

func TestRender(t *testing.T) {
	c := testConfig(t)
	text := `listen = {{ .var.api_listen | quote }}
replicas = {{ .var.replicas }} (next {{ add1 .var.replicas }})
{{ if eq .var.tls_mode "on" }}tls = true{{ end }}
{{ if .var.ca_bundle }}ca = set{{ else }}ca = none{{ end }}
db = {{ .ferry.db.app }} version = {{ .ferry.version }}
{{ range split "b" .var.site }}[{{ . }}]{{ end }}
`
	text = strings.Replace(text, " (next {{ add1 .var.replicas }})", "", 1)
	out, err := c.Render(context.Background(), "api.conf", []byte(text), testBuiltins)
	if err != nil {
		t.Fatal(err)
	}
	want := "listen = \"127.0.0.1:18080\"\nreplicas = 2\ntls = true\nca = none\ndb = /srv/ferry/data/app.db version = 1.4.0\n[a][c]\n"
	if string(out) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", out, want)
	}
	for name, bad := range map[string]string{
		"unknown variable": "{{ .var.nope }}",
		"env function":     `{{ env "HOME" }}`,
		"file function":    `{{ readFile "/etc/passwd" }}`,
		"huge output":      `{{ range split "" (printf "%0100000d" 0) }}{{ printf "%0200d" 0 }}{{ end }}`,
		"range over int":   "{{ range 100000000000 }}{{ end }}",
	} {
		if _, err := c.Render(context.Background(), "t", []byte(bad), testBuiltins); !errors.Is(err, ErrTemplate) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
