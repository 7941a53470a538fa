package license

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"ferry/verify"
)

const testPassphrase = "correct horse battery staple"

var allKeyTypes = []verify.KeyType{verify.KeyECDSAP256, verify.KeyEd25519, verify.KeyOpenPGP}

// testKeys makes one key pair of each type per test binary, the way the
// command line does (GenerateKey, then LoadSigner and ParsePublicKey): the
// passphrase KDFs are deliberately slow.
var testKeys = sync.OnceValues(func() (map[verify.KeyType]verify.Signer, error) {
	type result struct {
		t   verify.KeyType
		s   verify.Signer
		err error
	}
	ch := make(chan result, len(allKeyTypes))
	for _, t := range allKeyTypes {
		go func() {
			s, err := generateSigner(t)
			ch <- result{t, s, err}
		}()
	}
	m := make(map[verify.KeyType]verify.Signer)
	for range allKeyTypes {
		r := <-ch
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", r.t, r.err)
		}
		m[r.t] = r.s
	}
	return m, nil
})

func generateSigner(t verify.KeyType) (verify.Signer, error) {
	priv, pub, err := verify.GenerateKey(t, "ferry licence test <test@ferry.invalid>", []byte(testPassphrase))
	if err != nil {
		return nil, err
	}
	s, err := verify.LoadSigner(priv, []byte(testPassphrase))
	if err != nil {
		return nil, err
	}
	k, err := verify.ParsePublicKey(pub)
	if err != nil {
		return nil, err
	}
	if k.ID() != s.Public().ID() {
		return nil, fmt.Errorf("public key %s does not match the signer's %s", k.ID(), s.Public().ID())
	}
	return s, nil
}

func testSigner(t testing.TB, kt verify.KeyType) verify.Signer {
	t.Helper()
	m, err := testKeys()
	if err != nil {
		t.Fatalf("generate test keys: %v", err)
	}
	return m[kt]
}

// ephemeralSigner makes an in-memory sigstore-style key, for tests that
// need more keys than one of each type.
func ephemeralSigner(t testing.TB, kt verify.KeyType) verify.Signer {
	t.Helper()
	var (
		priv any
		err  error
	)
	switch kt {
	case verify.KeyECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case verify.KeyEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no ephemeral %s keys", kt)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := verify.NewSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func trustOf(threshold int, signers ...verify.Signer) verify.TrustSet {
	ts := verify.TrustSet{Threshold: threshold}
	for _, s := range signers {
		ts.Keys = append(ts.Keys, s.Public())
	}
	return ts
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// fullLicense sets every field.
func fullLicense() License {
	return License{
		ID:         "0123456789abcdef0123456789abcdef",
		Product:    "workflow-platform",
		Customer:   "ACME Corp. — Plant 7",
		Issued:     date("2026-01-15T10:00:00Z"),
		NotBefore:  date("2026-02-01T00:00:00Z"),
		Expires:    date("2027-02-01T00:00:00Z"),
		Grace:      30 * 24 * time.Hour,
		Components: []string{"api", "database", "worker"},
		Features:   []string{"audit-export", "sso <saml>"},
		Versions:   ">=1.0.0 <3.0.0",
		Nodes:      3,
		Bind:       "fp1:00112233445566778899aabbccddeeff",
	}
}

func issue(t testing.TB, l License, signers ...verify.Signer) []byte {
	t.Helper()
	data, err := Issue(l, signers...)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return data
}

// signedFile makes a licence file around any payload, signed by s, so that
// tests can reach the body parser past the signature check.
func signedFile(t testing.TB, payload []byte, s verify.Signer) []byte {
	t.Helper()
	data, err := verify.SignEnvelope(PayloadType, payload, s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
