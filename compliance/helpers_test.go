package compliance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/verify"
)

// testBundle is a signed bundle of the fixtures project and the public key
// that signed it.
type testBundle struct {
	path string
	pub  []byte
}

func buildBundle(t *testing.T, dir, version string, priv *ecdsa.PrivateKey) testBundle {
	t.Helper()
	p, err := fixtures.WriteProject(filepath.Join(dir, "project-"+version), fixtures.ProjectOptions{Version: version, FileSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := bundle.LoadSpec(p.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := verify.NewSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "app-"+version+".ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{signer}}); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testBundle{path: out, pub: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// installedRoot installs version 1.0.0 of the fixtures project into a new
// root and returns the root, the bundle and its signing key.
func installedRoot(t *testing.T) (string, testBundle, *ecdsa.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b := buildBundle(t, dir, "1.0.0", key)
	if _, err := installer.Install(context.Background(), b.path, installer.Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	return root, b, key
}

// tamper writes a copy of the bundle with one byte changed.
func tamper(t *testing.T, b testBundle) string {
	t.Helper()
	data, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)*3/5] ^= 0x10
	bad := filepath.Join(filepath.Dir(b.path), "tampered.ferry")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return bad
}

// collect collects evidence at an hour after the newest audit entry: a
// time that follows everything the root recorded, as a report's does, and
// the same for the same state, so two reports of it can be compared.
func collect(t *testing.T, root string) (*Evidence, []Finding) {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	last, err := db.LastAuditTime()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return collectAt(t, root, last.UTC().Truncate(time.Second).Add(time.Hour))
}

// collectAt collects evidence with the system clock reading at.
func collectAt(t *testing.T, root string, at time.Time) (*Evidence, []Finding) {
	t.Helper()
	ev, err := Collect(context.Background(), root, at)
	if err != nil {
		t.Fatal(err)
	}
	return ev, Assess(ev)
}

func byControl(fs []Finding) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range fs {
		m[f.Control] = f
	}
	return m
}

// wantStatus checks the status of each named control.
func wantStatus(t *testing.T, fs []Finding, want Status, controls ...string) {
	t.Helper()
	m := byControl(fs)
	for _, c := range controls {
		f, ok := m[c]
		if !ok {
			t.Errorf("no finding for %s", c)
			continue
		}
		if f.Status != want {
			t.Errorf("%s (%s) is %s, want %s: %s", f.Label, f.Title, f.Status, want, f.Summary)
		}
	}
}
