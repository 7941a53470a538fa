package installer

import (
	"context"
	"slices"
	"strings"
	"testing"

	"ferry/bundle"
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

// TestDatabaseDSNSealed: a PostgreSQL database's DSN is kept only sealed
// with the configuration, reaches a service whole as FERRY_DB_NAME the
// way a secret does (never in its definition), and carries over to the
// next configuration when no DSN is given again.
func TestDatabaseDSNSealed(t *testing.T) {
	root := t.TempDir()
	const password = "dsn-pass-90210"
	dsn := "postgres://app:" + password + "@db.example:5432/app?sslmode=disable"
	m := &bundle.Manifest{Name: "app", Version: "1.0.0", Components: []bundle.Component{
		{Name: "db", Migrations: []bundle.MigrationSet{{Database: "app"}, {Database: "local"}}},
		{Name: "api", Services: []spec.Service{{Name: "api", Command: []string{"bin/api"}}}},
	}}
	db, err := state.Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := resolveConfig(db, m, root, "", nil, map[string]string{"app": dsn})
	if err != nil {
		t.Fatal(err)
	}
	if c.DSNs["app"] != dsn || c.Databases["local"] == "" || c.Databases["app"] != "" {
		t.Fatalf("databases %v, DSNs %v", c.Databases, c.DSNs)
	}
	raw, err := storedConfigJSON(root, c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), password) || strings.Contains(string(raw), "db.example") {
		t.Fatalf("the stored configuration holds the DSN: %s", raw)
	}
	if err := db.PutRelease(state.Release{Version: "1.0.0", Status: statusActive, Config: raw}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetCurrent("1.0.0"); err != nil {
		t.Fatal(err)
	}
	rel, err := db.Release("1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ExpandedService(rel, root, m.Components[1].Services[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.Env["FERRY_DB_APP"]; ok || svc.Env["FERRY_DB_LOCAL"] == "" {
		t.Fatalf("service definition env %v", svc.Env)
	}
	db.Close()
	sec, err := SiteSecrets(root)(context.Background(), "1.0.0", "api", m.Components[1].Services[0])
	if err != nil {
		t.Fatal(err)
	}
	if db, err = state.Open(root, false); err != nil {
		t.Fatal(err)
	}
	if sec.Env["FERRY_DB_APP"] != dsn || !slices.Contains(sec.Values(), dsn) {
		t.Fatalf("delivered %v", sec.Env)
	}
	// The next configuration (an update or config set given no DSN)
	// keeps it.
	next, err := resolveConfig(db, m, root, "1.0.0", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if next.DSNs["app"] != dsn || next.Databases["app"] != "" {
		t.Fatalf("next configuration: databases %v, DSNs %v", next.Databases, next.DSNs)
	}
}
