package installer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgpecdsa "github.com/ProtonMail/go-crypto/openpgp/ecdsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/installer/state"
	"ferry/verify"
)

// buildSignedBy builds the fixtures project at version, signed by every
// key in keys, as an update of base when base is not "".
func buildSignedBy(t *testing.T, dir, version, base string, keys ...*ecdsa.PrivateKey) string {
	t.Helper()
	p, err := fixtures.WriteProject(filepath.Join(dir, "project-"+version), fixtures.ProjectOptions{Version: version, FileSize: 4 << 10})
	must(t, err)
	spec, err := bundle.LoadSpec(p.SpecPath)
	must(t, err)
	var signers []verify.Signer
	for _, k := range keys {
		signers = append(signers, signerOf(t, k))
	}
	out := filepath.Join(dir, "app-"+version+".ferry")
	_, err = bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: signers, Base: base})
	must(t, err)
	return out
}

// current is the release current on the appliance at root.
func current(t *testing.T, root string) string {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	c, err := db.Current()
	must(t, err)
	return c
}

// rotatedHost is an appliance that was given key old on its first install
// and then installed a bundle signed by key successor whose rotation
// statement retired old.
func rotatedHost(t *testing.T, dir string) (root string, old, successor *ecdsa.PrivateKey) {
	t.Helper()
	old, successor = newKey(t), newKey(t)
	statement, err := verify.SignRotation(1, 1, [][]byte{pubPEM(t, successor)}, time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), signerOf(t, old))
	must(t, err)
	b1 := buildSigned(t, dir, "1.0.0", old, 4<<10)
	b2 := buildSigned(t, dir, "1.1.0", successor, 4<<10, statement)
	root = filepath.Join(dir, "root")
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	if ids, seq := hostTrust(t, root); !slices.Equal(ids, []string{keyID(t, successor)}) || seq != 1 {
		t.Fatalf("after the rotation the host trusts %v at %d", ids, seq)
	}
	if err := verifyDerivedAt(t, root); err != nil {
		t.Fatalf("the audit log does not lead to the rotated trust: %v", err)
	}
	return root, old, successor
}

// TestRetiredKeyViaKey is the attack of an old release key, retired by a
// rotation statement and then stolen, brought back with --key: a bundle
// signed by it alone is refused, the error names the key and the
// statement, and the host's trust is as it was.
func TestRetiredKeyViaKey(t *testing.T) {
	dir := t.TempDir()
	root, old, successor := rotatedHost(t, dir)
	evil := buildSigned(t, filepath.Join(dir, "evil"), "1.2.0", old, 4<<10)
	_, err := Install(context.Background(), evil.path, Options{Root: root, Keys: [][]byte{evil.pub}})
	if !errors.Is(err, ErrRetiredKey) {
		t.Fatalf("a bundle signed by the retired key, given with --key: %v, want ErrRetiredKey", err)
	}
	if msg := err.Error(); !strings.Contains(msg, keyID(t, old)) || !strings.Contains(msg, "rotation statement 1") {
		t.Errorf("the refusal %q does not name the key and the statement", msg)
	}
	if c := current(t, root); c != "1.1.0" {
		t.Errorf("current %s after the refusal, want 1.1.0", c)
	}
	if ids, _ := hostTrust(t, root); !slices.Equal(ids, []string{keyID(t, successor)}) {
		t.Errorf("the host trusts %v after the refusal", ids)
	}
	// Nor does `ferry trust add` bring it back.
	db, err := state.Open(root, false)
	must(t, err)
	defer db.Close()
	if _, err := AddTrust(db, pubPEM(t, old)); !errors.Is(err, ErrRetiredKey) {
		t.Errorf("trust add of the retired key: %v, want ErrRetiredKey", err)
	}
}

// TestRetiredKeyViaEmbeddedKeys is the attack of an installer that embeds
// a key its own bundle's rotation statement retires: an installer's
// embedded keys are the first install's keys, as --key is. The install
// succeeds, but the retired key is not trusted afterwards, so a later
// bundle signed by it alone is refused; and once retired, it is refused as
// the first keys of a host whose trust was emptied.
func TestRetiredKeyViaEmbeddedKeys(t *testing.T) {
	dir := t.TempDir()
	old, successor := newKey(t), newKey(t)
	statement, err := verify.SignRotation(1, 1, [][]byte{pubPEM(t, successor)}, time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), signerOf(t, old))
	must(t, err)
	b1 := buildSigned(t, dir, "1.1.0", successor, 4<<10, statement)
	root := filepath.Join(dir, "root")
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{pubPEM(t, old)}}); err != nil {
		t.Fatal(err)
	}
	if ids, seq := hostTrust(t, root); !slices.Equal(ids, []string{keyID(t, successor)}) || seq != 1 {
		t.Fatalf("after installing the bundle the host trusts %v at %d, want only the new key", ids, seq)
	}
	evil := buildSigned(t, filepath.Join(dir, "evil"), "1.2.0", old, 4<<10)
	if _, err := Install(context.Background(), evil.path, Options{Root: root}); err == nil {
		t.Fatal("a bundle signed by the retired key installed")
	}
	db, err := state.Open(root, false)
	must(t, err)
	must(t, db.RemoveTrust(keyID(t, successor)))
	db.Close()
	if _, err := Install(context.Background(), evil.path, Options{Root: root, Keys: [][]byte{pubPEM(t, old)}}); !errors.Is(err, ErrRetiredKey) {
		t.Fatalf("the retired key as the first key of an emptied host: %v, want ErrRetiredKey", err)
	}
	if c := current(t, root); c != "1.1.0" {
		t.Errorf("current %s, want 1.1.0", c)
	}
	if err := verifyDerivedAt(t, root); err != nil {
		t.Errorf("the audit log does not lead to the host's trust: %v", err)
	}
}

// TestKeyDoesNotExtendTrust is the attack of an operator (or a script, or
// someone at the console) passing --key with their own key to a host that
// already trusts release keys: the install is refused, naming `ferry
// trust add`, and the key is not trusted. A key the host trusts already
// may be given.
func TestKeyDoesNotExtendTrust(t *testing.T) {
	dir := t.TempDir()
	release, attacker := newKey(t), newKey(t)
	b1 := buildSigned(t, dir, "1.0.0", release, 4<<10)
	root := filepath.Join(dir, "root")
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatal(err)
	}
	evil := buildSigned(t, filepath.Join(dir, "evil"), "1.1.0", attacker, 4<<10)
	_, err := Install(context.Background(), evil.path, Options{Root: root, Keys: [][]byte{evil.pub}})
	if !errors.Is(err, ErrKeyNotTrusted) || !strings.Contains(err.Error(), "ferry trust add") {
		t.Fatalf("--key with a new key on a host that trusts keys: %v, want ErrKeyNotTrusted naming ferry trust add", err)
	}
	if ids, _ := hostTrust(t, root); !slices.Equal(ids, []string{keyID(t, release)}) {
		t.Errorf("the host trusts %v after the refusal", ids)
	}
	if c := current(t, root); c != "1.0.0" {
		t.Errorf("current %s, want 1.0.0", c)
	}
	good := buildSigned(t, filepath.Join(dir, "good"), "1.1.0", release, 4<<10)
	if _, err := Install(context.Background(), good.path, Options{Root: root, Keys: [][]byte{good.pub}}); err != nil {
		t.Fatalf("--key with a key the host trusts: %v", err)
	}
}

// TestStoredThreshold is the attack of a single stolen key on a host set
// up to require two: the threshold given at the first install is the
// host's, and a later install or update signed by one key is refused
// without anyone repeating --threshold.
func TestStoredThreshold(t *testing.T) {
	dir := t.TempDir()
	a, b := newKey(t), newKey(t)
	b1 := buildSignedBy(t, dir, "1.0.0", "", a, b)
	root := filepath.Join(dir, "root")
	if _, err := Install(context.Background(), b1, Options{Root: root, Keys: [][]byte{pubPEM(t, a), pubPEM(t, b)}, Threshold: 2}); err != nil {
		t.Fatal(err)
	}
	one := buildSignedBy(t, filepath.Join(dir, "one"), "1.1.0", "", a)
	if _, err := Install(context.Background(), one, Options{Root: root}); !errors.Is(err, verify.ErrBelowThreshold) {
		t.Fatalf("install signed by 1 key on a 2-key host: %v, want ErrBelowThreshold", err)
	}
	update := buildSignedBy(t, filepath.Join(dir, "update"), "1.1.0", b1, a)
	if _, err := Update(context.Background(), update, Options{Root: root}); !errors.Is(err, verify.ErrBelowThreshold) {
		t.Fatalf("update signed by 1 key on a 2-key host: %v, want ErrBelowThreshold", err)
	}
	if c := current(t, root); c != "1.0.0" {
		t.Fatalf("current %s, want 1.0.0", c)
	}
	// --threshold may raise it for one command, never lower it.
	if _, err := Install(context.Background(), one, Options{Root: root, Threshold: 1}); !errors.Is(err, verify.ErrBelowThreshold) {
		t.Fatalf("--threshold 1 on a 2-key host: %v, want ErrBelowThreshold", err)
	}
	two := buildSignedBy(t, filepath.Join(dir, "two"), "1.1.0", b1, a, b)
	if _, err := Update(context.Background(), two, Options{Root: root}); err != nil {
		t.Fatalf("update signed by both keys: %v", err)
	}
	// Lowering it is `ferry trust threshold`, audited.
	db, err := state.Open(root, false)
	must(t, err)
	if err := SetThreshold(db, 3); err == nil {
		t.Error("threshold 3 of 2 keys was accepted")
	}
	must(t, SetThreshold(db, 1))
	if !auditHas(t, db, "trust.threshold") {
		t.Error("no trust.threshold audit entry")
	}
	db.Close()
	three := buildSignedBy(t, filepath.Join(dir, "three"), "1.2.0", "", b)
	if _, err := Install(context.Background(), three, Options{Root: root}); err != nil {
		t.Fatalf("after trust threshold 1: %v", err)
	}
	if err := verifyDerivedAt(t, root); err != nil {
		t.Errorf("the audit log does not lead to the host's threshold: %v", err)
	}
}

// samePublicKeyTwice writes one ECDSA P-256 public key in two encodings: a
// PKIX PEM and a real OpenPGP certificate whose primary key it is.
func samePublicKeyTwice(t *testing.T) (pemKey, pgpKey []byte) {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoECDSA, Curve: packet.CurveNistP256}
	e, err := openpgp.NewEntity("same key", "", "same@ferry.invalid", cfg)
	must(t, err)
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, "PGP PUBLIC KEY BLOCK", nil)
	must(t, err)
	must(t, e.Serialize(w))
	must(t, w.Close())
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), e.PrimaryKey.PublicKey.(*pgpecdsa.PublicKey).MarshalPoint())
	must(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), buf.Bytes()
}

// TestTrustAddSameKeyTwoEncodings is the attack of trusting one key twice,
// as a PEM and as an OpenPGP certificate, so that the host counts two
// keys where one holder signs for both: the second is refused, naming the
// first, and a threshold of 2 cannot be set on one key.
func TestTrustAddSameKeyTwoEncodings(t *testing.T) {
	pemKey, pgpKey := samePublicKeyTwice(t)
	root := filepath.Join(t.TempDir(), "root")
	db, err := state.Open(root, true)
	must(t, err)
	defer db.Close()
	first, err := AddTrust(db, pemKey)
	must(t, err)
	if _, err := AddTrust(db, pgpKey); !errors.Is(err, ErrSameKey) || !strings.Contains(err.Error(), first.ID()) {
		t.Fatalf("trust add of the same key as an OpenPGP certificate: %v, want ErrSameKey naming %s", err, first.ID())
	}
	keys, err := db.Trust()
	must(t, err)
	if len(keys) != 1 {
		t.Fatalf("the host trusts %d keys, want 1", len(keys))
	}
	if err := SetThreshold(db, 2); err == nil {
		t.Error("threshold 2 of one key was accepted")
	}
	// Nor as the first install's keys.
	dir := t.TempDir()
	b := buildSigned(t, dir, "1.0.0", newKey(t), 4<<10)
	if _, err := Install(context.Background(), b.path, Options{Root: filepath.Join(dir, "root"), Keys: [][]byte{pemKey, pgpKey, b.pub}}); !errors.Is(err, ErrSameKey) {
		t.Errorf("first install given one key in two encodings: %v, want ErrSameKey", err)
	}
}
