package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/license"
)

// runLicenseCLI runs ferry in-process.
func runLicenseCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	app := newApp(&out, &errw)
	err = app.RunContext(context.Background(), intersperse(app, append([]string{"ferry"}, args...)))
	return out.String(), errw.String(), err
}

func TestLicenseCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FERRY_PASSPHRASE", "licence test passphrase")
	vendor, other := filepath.Join(dir, "vendor"), filepath.Join(dir, "other")
	for _, k := range []string{vendor, other} {
		if _, stderr, err := runLicenseCLI(t, "keys", "generate", "--type", "ed25519", "--out", k); err != nil {
			t.Fatalf("keys generate: %v\n%s", err, stderr)
		}
	}
	lic := filepath.Join(dir, "acme.lic")
	stdout, stderr, err := runLicenseCLI(t, "license", "issue", "--key", vendor+".key", "--customer", "ACME",
		"--product", "workflow-platform", "--expires", "2099-12-31", "--grace", "30d",
		"--components", "api,worker", "--features", "sso, audit", "--versions", ">=1.0.0 <3.0.0", "--nodes", "3", "-o", lic)
	if err != nil {
		t.Fatalf("license issue: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "issued licence ") || !strings.Contains(stdout, "to 2099-12-31T00:00:00Z, grace 30d") {
		t.Errorf("license issue printed:\n%s", stdout)
	}

	// Inspect without a key shows the terms and says nothing was checked.
	stdout, _, err = runLicenseCLI(t, "license", "inspect", lic)
	if err != nil {
		t.Fatalf("license inspect: %v", err)
	}
	for _, want := range []string{"customer    ACME", "components  api, worker", "features    audit, sso", "nodes       3", "now         valid: expires in", "verified    not checked"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("license inspect does not show %q:\n%s", want, stdout)
		}
	}

	// With the vendor's key it verifies; --json after the file name.
	stdout, _, err = runLicenseCLI(t, "license", "inspect", lic, "--key", vendor+".pub", "--json")
	if err != nil {
		t.Fatalf("license inspect --key: %v", err)
	}
	var r license.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("license inspect --json: %v\n%s", err, stdout)
	}
	if r.Verified == nil || !*r.Verified || len(r.SignedBy) != 1 || r.Grace != "720h0m0s" || r.State != license.StateValid || r.Versions != ">=1.0.0 <3.0.0" {
		t.Errorf("license inspect --json: %+v", r)
	}

	// With another key it does not, and says why.
	stdout, _, err = runLicenseCLI(t, "license", "inspect", lic, "--key", other+".pub")
	if !errors.Is(err, license.ErrUntrusted) || !strings.Contains(stdout, "verified    NO") {
		t.Errorf("license inspect with another key: %v\n%s", err, stdout)
	}

	// A changed byte is refused before anything is shown.
	data, err := os.ReadFile(lic)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	changed := filepath.Join(dir, "changed.lic")
	if err := os.WriteFile(changed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runLicenseCLI(t, "license", "inspect", changed, "--key", vendor+".pub"); err == nil {
		t.Error("license inspect accepted a changed licence")
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"bad date", []string{"--expires", "31.12.2099"}},
		{"bad grace", []string{"--expires", "2099-12-31", "--grace", "a month"}},
		{"missing customer", []string{"--expires", "2099-12-31", "--customer", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"license", "issue", "--key", vendor + ".key", "--customer", "ACME", "-o", filepath.Join(dir, "x.lic")}, tc.args...)
			if _, _, err := runLicenseCLI(t, args...); err == nil {
				t.Errorf("license issue %v succeeded", tc.args)
			} else if tc.name != "missing customer" && !errors.Is(err, errUsage) {
				t.Errorf("license issue %v: %v, want a usage error", tc.args, err)
			}
		})
	}
}

func TestFingerprintCommand(t *testing.T) {
	want, wantErr := license.Fingerprint()
	stdout, _, err := runLicenseCLI(t, "fingerprint", "--json")
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("fingerprint: %v, library: %v", err, wantErr)
	}
	var r license.HostReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("fingerprint --json: %v\n%s", err, stdout)
	}
	if r.Fingerprint != want || len(r.Sources) == 0 {
		t.Errorf("fingerprint --json: %+v, want %s", r, want)
	}
	if wantErr != nil {
		return
	}
	stdout, stderr, err := runLicenseCLI(t, "fingerprint")
	if err != nil || stdout != want+"\n" || !strings.Contains(stderr, "(used)") {
		t.Errorf("fingerprint: %v\nstdout %q\nstderr %s", err, stdout, stderr)
	}
}

func TestParseDays(t *testing.T) {
	for in, want := range map[string]string{"30d": "720h0m0s", "0": "0s", "0d": "0s", "72h": "72h0m0s", "90m": "1h30m0s"} {
		d, err := parseDays(in)
		if err != nil || d.String() != want {
			t.Errorf("parseDays(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "-1h", "1w", "1.5d", "30 d"} {
		if _, err := parseDays(in); err == nil {
			t.Errorf("parseDays(%q) succeeded", in)
		}
	}
}
