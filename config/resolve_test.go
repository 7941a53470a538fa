package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle/spec"
)

func scalar(s string) *spec.Scalar { v := spec.Scalar(s); return &v }
func num(n int64) *int64           { return &n }

// testVars are the variables of issue 20's example.
func testVars() []spec.Variable {
	return []spec.Variable{
		{Name: "api_listen", Type: spec.TypeAddress, Default: scalar("0.0.0.0:8080")},
		{Name: "replicas", Type: spec.TypeInt, Default: scalar("2"), Min: num(1), Max: num(20)},
		{Name: "tls_mode", Type: spec.TypeEnum, Values: []spec.Scalar{"off", "on"}, Default: scalar("on")},
		{Name: "db_password", Type: spec.TypeSecret, Required: true},
		{Name: "ca_bundle", Type: spec.TypeFile},
		{Name: "site", Type: spec.TypeString, Pattern: "[a-z]+", Default: scalar("lab")},
	}
}

func writeValues(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolvePrecedence(t *testing.T) {
	a := writeValues(t, "a.yaml", "replicas: 3\nsite: first\ndb_password: from-file\n")
	b := writeValues(t, "b.yaml", "# later file\n\nsite: second\n")
	prev := &Config{Revision: 4, Values: []Value{
		{Name: "api_listen", Value: "127.0.0.1:9000", Set: true, Source: Source{Kind: FromFlag, Where: "--set"}},
		{Name: "tls_mode", Value: "off", Set: true, Source: Source{Kind: FromDefault}}, // the bundle's, not the site's
		{Name: "gone", Value: "x", Set: true, Source: Source{Kind: FromFlag, Where: "--set"}},
	}}
	c, err := Resolve(testVars(), Inputs{
		Files:    []string{a, b},
		Environ:  []string{"FERRY_VAR_REPLICAS=5", "FERRY_VAR_UNDECLARED=1", "PATH=/bin"},
		Set:      []string{"replicas=7"},
		Previous: prev,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Value{
		"api_listen":  {Value: "127.0.0.1:9000", Set: true, Source: Source{FromPrevious, "revision 4, from flag --set"}},
		"replicas":    {Value: "7", Set: true, Source: Source{FromFlag, "--set"}},
		"tls_mode":    {Value: "on", Set: true, Source: Source{FromDefault, ""}},
		"db_password": {Value: "from-file", Set: true, Source: Source{FromFile, a + ":3"}},
		"ca_bundle":   {},
		"site":        {Value: "second", Set: true, Source: Source{FromFile, b + ":3"}},
	}
	if c.Revision != 5 || len(c.Values) != len(want) {
		t.Fatalf("config = %+v", c)
	}
	for _, v := range c.Values {
		w := want[v.Name]
		if v.Value != w.Value || v.Set != w.Set || v.Source != w.Source {
			t.Errorf("%s = %+v, want %+v", v.Name, v, w)
		}
	}
	// Without --set, the environment wins over the files.
	c, err = Resolve(testVars(), Inputs{Files: []string{a}, Environ: []string{"FERRY_VAR_REPLICAS=5"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Lookup("replicas"); v.Value != "5" || v.Source.Where != "FERRY_VAR_REPLICAS" || c.Revision != 1 {
		t.Errorf("replicas = %+v", v)
	}
}

func TestResolveRefusals(t *testing.T) {
	tests := []struct {
		name   string
		in     Inputs
		class  error
		where  string // in the message
		hidden string // must not be in the message
	}{
		{name: "required missing", in: Inputs{}, class: ErrRequired, where: "variable db_password: expected a value (required)"},
		{name: "not an int", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Set: []string{"replicas=many"}}, class: ErrType, where: `variable replicas (from flag --set): "many": expected an integer`},
		{name: "out of range", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Set: []string{"replicas=21"}}, class: ErrRange, where: "from 1 to 20"},
		{name: "not in enum", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Set: []string{"tls_mode=maybe"}}, class: ErrNotAllowed, where: "one of off, on"},
		{name: "pattern", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Set: []string{"site=Lab1"}}, class: ErrNotAllowed, where: "pattern [a-z]+"},
		{name: "address", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Set: []string{"api_listen=localhost"}}, class: ErrType, where: "host:port"},
		{name: "file not absolute", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Set: []string{"ca_bundle=ca.pem"}}, class: ErrType, where: "absolute path"},
		{name: "unknown name", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Set: []string{"replica=2"}}, class: ErrInput, where: "variable replica (from flag --set)"},
		{name: "set without =", in: Inputs{Set: []string{"hunter2"}}, class: ErrInput, where: "NAME=VALUE", hidden: "hunter2"},
		{name: "secret pattern redacted", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=hunter2"}}, class: nil},
		{name: "values file not a mapping", in: Inputs{Files: []string{"LIST"}}, class: ErrInput, where: "not a mapping"},
		{name: "values file not YAML", in: Inputs{Files: []string{"BAD"}}, class: ErrInput, where: "not YAML"},
		{name: "values file duplicate", in: Inputs{Files: []string{"DUP"}}, class: ErrInput, where: "already defined"},
		{name: "values file missing", in: Inputs{Files: []string{"/nonexistent/site.yaml"}}, class: ErrInput, where: "site.yaml"},
		{name: "values file line", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Files: []string{"LINE"}}, class: ErrRange, where: ".yaml:3): \"0\""},
		{name: "previous of a changed type", in: Inputs{Environ: []string{"FERRY_VAR_DB_PASSWORD=x"}, Previous: &Config{Revision: 1, Values: []Value{{Name: "replicas", Value: "two", Set: true, Source: Source{Kind: FromFlag, Where: "--set"}}}}},
			class: ErrType, where: "from previous revision 1, from flag --set"},
	}
	files := map[string]string{"LIST": "- a\n- b\n", "BAD": "a: [\n", "DUP": "site: a\nsite: b\n", "LINE": "# site\nsite: abc\nreplicas: 0\n"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, f := range tt.in.Files {
				if text, ok := files[f]; ok {
					tt.in.Files[i] = writeValues(t, "site.yaml", text)
				}
			}
			_, err := Resolve(testVars(), tt.in)
			if tt.class == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.class) {
				t.Fatalf("err = %v, want %v", err, tt.class)
			}
			if !strings.Contains(err.Error(), tt.where) {
				t.Errorf("err = %v, want it to say %q", err, tt.where)
			}
			if tt.hidden != "" && strings.Contains(err.Error(), tt.hidden) {
				t.Errorf("err shows %q: %v", tt.hidden, err)
			}
		})
	}
	// A secret's value is never in an error.
	vars := []spec.Variable{{Name: "token", Type: spec.TypeSecret, Pattern: "[0-9]+"}}
	_, err := Resolve(vars, Inputs{Environ: []string{"FERRY_VAR_TOKEN=hunter2"}})
	if !errors.Is(err, ErrNotAllowed) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), Redacted) {
		t.Errorf("err = %v", err)
	}
}

func TestResolvePrompt(t *testing.T) {
	var asked []string
	prompt := func(v spec.Variable) (string, error) {
		asked = append(asked, v.Name)
		return "s3cret", nil
	}
	c, err := Resolve(testVars(), Inputs{Prompt: prompt})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Lookup("db_password"); v.Value != "s3cret" || v.Source.Kind != FromPrompt || len(asked) != 1 {
		t.Errorf("db_password = %+v, asked %v", v, asked)
	}
	// A prompter without a terminal leaves the value missing.
	_, err = Resolve(testVars(), Inputs{Prompt: func(spec.Variable) (string, error) { return "", NoTerminal() }})
	if !errors.Is(err, ErrRequired) {
		t.Errorf("err = %v", err)
	}
}

// TestResolveSecretOffCommandLine: a secret's value given as --set
// NAME=VALUE is refused (every user of the host reads a command line),
// naming the ways that keep it off, and never shown; --set NAME=@FILE
// reads it from a file instead.
func TestResolveSecretOffCommandLine(t *testing.T) {
	const secret = "on-the-cmdline-1234"
	_, err := Resolve(testVars(), Inputs{Set: []string{"db_password=" + secret}})
	if !errors.Is(err, ErrSecretOnCommandLine) || errors.Is(err, ErrRequired) {
		t.Fatalf("a secret in --set: %v", err)
	}
	for _, want := range []string{"variable db_password (from flag --set)", "FERRY_VAR_DB_PASSWORD", "--values FILE", "--set db_password=@FILE", "prompt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the refusal shows the secret: %v", err)
	}
	file := writeValues(t, "pw", secret+"\n")
	c, err := Resolve(testVars(), Inputs{Set: []string{"db_password=@" + file, "site=@" + writeValues(t, "site", "fromfile")}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Lookup("db_password"); v.Value != secret || v.Source != (Source{FromFile, file}) {
		t.Errorf("db_password from @FILE: %+v", v)
	}
	if v, _ := c.Lookup("site"); v.Value != "fromfile" {
		t.Errorf("site from @FILE: %+v", v)
	}
	if _, err := Resolve(testVars(), Inputs{Set: []string{"db_password=@" + filepath.Join(t.TempDir(), "none")}}); !errors.Is(err, ErrInput) {
		t.Errorf("--set NAME=@FILE of no file: %v", err)
	}
}
