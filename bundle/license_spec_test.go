package bundle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/verify"
)

// TestLicenseSection: the licence signer's public keys named in ferry.yaml
// travel, as text, in the signed manifest; a missing, private or unreadable
// key is a spec error naming the field.
func TestLicenseSection(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := verify.GenerateKey(verify.KeyEd25519, "vendor", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("keys/license.pub", string(pub))
	write("keys/license.key", string(priv))
	write("app.conf", "x=1\n")
	// load writes ferry.yaml with the licence section given and loads it.
	load := func(license string) (*spec.Spec, error) {
		t.Helper()
		write("ferry.yaml", "apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: lic, version: 1.0.0}\n"+license+
			"components:\n  - name: app\n    files: [{src: app.conf, dest: app.conf}]\n")
		return bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	}

	s, err := load("license:\n  required: true\n  keys: [keys/license.pub]\n")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "lic.ferry")
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: s, Signers: keys(t).signers[:1]})
	if err != nil {
		t.Fatal(err)
	}
	l := res.Manifest.License
	if l == nil || !l.Required || len(l.Keys) != 1 || l.Keys[0] != string(pub) {
		t.Fatalf("manifest licence policy %+v", l)
	}
	v, err := bundle.VerifyFile(context.Background(), out, bundle.VerifyOptions{Trust: verify.TrustSet{Keys: keys(t).pubs[:1], Threshold: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Manifest.License == nil || v.Manifest.License.Keys[0] != string(pub) {
		t.Fatal("the verified manifest lost the licence keys")
	}

	for _, tc := range []struct{ name, license, msg string }{
		{"no keys", "license:\n  required: true\n", "license.keys: is required"},
		{"private key", "license:\n  keys: [keys/license.key]\n", "license.keys[0]"},
		{"missing file", "license:\n  keys: [keys/none.pub]\n", "does not exist"},
		{"outside", "license:\n  keys: [../x.pub]\n", "leaves the directory"},
		{"unknown field", "license:\n  keys: [keys/license.pub]\n  optional: true\n", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.license)
			var se *spec.Error
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want a spec error with %q", err, tc.msg)
			}
		})
	}
}
