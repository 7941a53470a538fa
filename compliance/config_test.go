package compliance

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer"
	"ferry/verify"
)

// TestConfigurationSettings: on an appliance whose bundle declares
// variables, CM-6 lists each value in force and each kept revision with
// its source, and each change the audit log recorded; a secret's value is
// in no report. A bundle without variables leaves CM-6 not applicable.
func TestConfigurationSettings(t *testing.T) {
	root, _, _ := installedRoot(t)
	_, fs := collect(t, root)
	wantStatus(t, fs, NotApplicable, "cm-6")

	dir := t.TempDir()
	p := filepath.Join(dir, "p")
	if err := os.MkdirAll(filepath.Join(p, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"ferry.yaml": `apiVersion: ferry/v1
kind: Bundle
metadata: {name: configured, version: 1.0.0}
variables:
  - {name: greeting, type: string, default: one}
  - {name: token, type: secret}
components:
  - name: app
    files:
      - {src: etc/greeting.conf, dest: etc/greeting.conf, template: true}
`,
		"etc/greeting.conf": "greeting = {{ .var.greeting }}\n",
	} {
		if err := os.WriteFile(filepath.Join(p, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := bundle.LoadSpec(filepath.Join(p, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	signer, err := verify.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "configured.ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{signer}}); err != nil {
		t.Fatal(err)
	}
	const secret = "cm6-secret-value-77"
	root = filepath.Join(dir, "root")
	ctx := context.Background()
	if _, err := installer.Install(ctx, out, installer.Options{Root: root, Keys: [][]byte{pub},
		Config: &config.Inputs{Environ: []string{"FERRY_VAR_TOKEN=" + secret}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := installer.ApplyConfig(ctx, installer.ConfigOptions{Root: root, Config: &config.Inputs{Set: []string{"greeting=two"}}}); err != nil {
		t.Fatal(err)
	}
	ev, fs := collect(t, root)
	wantStatus(t, fs, Satisfied, "cm-6", "cm-8", "cm-14", "sa-10.1")
	var text []string
	for _, it := range byControl(fs)["cm-6"].Evidence {
		text = append(text, it.Description)
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		`configuration revision 1 of release 1.0.0 (kept): greeting (string) = "one", from default; token (secret) set, from env FERRY_VAR_TOKEN`,
		`configuration revision 2 of release 1.0.0+config.2 (in force): greeting (string) = "two", from flag --set; token (secret) set, from previous revision 1, from env FERRY_VAR_TOKEN`,
		"configuration revision 2 of release 1.0.0+config.2 applied (given greeting (flag), changed greeting, from release 1.0.0)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("CM-6 evidence lacks %q:\n%s", want, all)
		}
	}
	for _, f := range []Format{Markdown, OSCAL, CKL, CKLB} {
		var buf bytes.Buffer
		if err := Write(&buf, f, ev, fs); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte(secret)) {
			t.Errorf("the %s report holds the secret", f)
		}
	}
}
