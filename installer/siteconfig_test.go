package installer

import (
	"strings"
	"testing"

	"ferry/bundle/spec"
	"ferry/config"
	"ferry/config/sealed"
	"ferry/installer/state"
)

// TestConfigSealedAtRest: a secret value is stored only sealed to the
// host key and opens again with it; a service definition as ferry serve
// keeps it holds the secret's reference, never its value.
func TestConfigSealedAtRest(t *testing.T) {
	root := t.TempDir()
	if _, err := sealed.CreateKey(root); err != nil {
		t.Fatal(err)
	}
	const secret = "hunter2-at-rest"
	c := &config.Config{Revision: 1, Values: []config.Value{
		{Name: "site", Type: spec.TypeString, Value: "lab", Set: true},
		{Name: "pw", Type: spec.TypeSecret, Value: secret, Set: true, Source: config.Source{Kind: config.FromEnv, Where: "FERRY_VAR_PW"}},
	}}
	raw, err := storedConfigJSON(root, c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), secret) || !strings.Contains(string(raw), `"sealed"`) {
		t.Fatalf("stored configuration: %s", raw)
	}
	if v, _ := c.Lookup("pw"); v.Value != secret {
		t.Fatal("sealing changed the configuration given")
	}
	rel := state.Release{Version: "1.0.0", Config: raw}
	stored, err := StoredConfig(rel)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := unseal(root, stored)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := opened.Lookup("pw"); v.Value != secret || v.Sealed != nil {
		t.Fatalf("unsealed pw = %+v", v)
	}
	svc, err := ExpandedService(rel, root, spec.Service{Name: "api", Command: []string{"bin/api"},
		Env: map[string]string{"PW": "${var.pw}", "SITE": "${var.site}"}})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Env["PW"] != "${var.pw}" || svc.Env["SITE"] != "lab" || svc.Env["FERRY_ROOT"] != root {
		t.Fatalf("env = %v", svc.Env)
	}
	// Another host's key does not open it.
	other := t.TempDir()
	if _, err := sealed.CreateKey(other); err != nil {
		t.Fatal(err)
	}
	if _, err := unseal(other, stored); err == nil {
		t.Fatal("another host key opened the value")
	}
}
