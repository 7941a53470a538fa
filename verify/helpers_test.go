package verify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

const testPassphrase = "correct horse battery staple"

var allKeyTypes = []KeyType{KeyECDSAP256, KeyEd25519, KeyOpenPGP}

// generated is a key pair made by GenerateKey and loaded back with
// LoadSigner and ParsePublicKey, as the command line does.
type generated struct {
	priv, pub []byte
	signer    Signer
	key       *PublicKey
}

// generatedKeys makes one key pair of each type per test binary: the
// passphrase KDFs are deliberately slow, more so under the race detector.
var generatedKeys = sync.OnceValues(func() (map[KeyType]*generated, error) {
	type result struct {
		t   KeyType
		g   *generated
		err error
	}
	ch := make(chan result, len(allKeyTypes))
	for _, t := range allKeyTypes {
		go func() {
			g, err := generate(t)
			ch <- result{t, g, err}
		}()
	}
	m := make(map[KeyType]*generated)
	for range allKeyTypes {
		r := <-ch
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", r.t, r.err)
		}
		m[r.t] = r.g
	}
	return m, nil
})

func generate(t KeyType) (*generated, error) {
	priv, pub, err := GenerateKey(t, "ferry test key <test@ferry.invalid>", []byte(testPassphrase))
	if err != nil {
		return nil, err
	}
	signer, err := LoadSigner(priv, []byte(testPassphrase))
	if err != nil {
		return nil, err
	}
	key, err := ParsePublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &generated{priv: priv, pub: pub, signer: signer, key: key}, nil
}

func testKey(t testing.TB, kt KeyType) *generated {
	t.Helper()
	m, err := generatedKeys()
	if err != nil {
		t.Fatalf("generate test keys: %v", err)
	}
	return m[kt]
}

// newSigner makes an in-memory signer without the passphrase round trip,
// for tests that need many keys.
func newSigner(t testing.TB, kt KeyType) Signer {
	t.Helper()
	var (
		s   Signer
		err error
	)
	switch kt {
	case KeyECDSAP256:
		var k *ecdsa.PrivateKey
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err == nil {
			s, err = newSigstoreSigner(k)
		}
	case KeyEd25519:
		var k ed25519.PrivateKey
		if _, k, err = ed25519.GenerateKey(rand.Reader); err == nil {
			s, err = newSigstoreSigner(k)
		}
	case KeyOpenPGP:
		var e *openpgp.Entity
		if e, err = openpgp.NewEntity("ferry test", "", "test@ferry.invalid", newOpenPGPConfig()); err == nil {
			s, err = newOpenPGPSigner(e)
		}
	default:
		t.Fatalf("unknown key type %q", kt)
	}
	if err != nil {
		t.Fatalf("new %s signer: %v", kt, err)
	}
	return s
}

func sign(t testing.TB, s Signer, message []byte) Signature {
	t.Helper()
	sig, err := s.Sign(message)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return sig
}

// marshalPublicKey writes k back in the form ParsePublicKey reads.
func marshalPublicKey(t testing.TB, k *PublicKey) []byte {
	t.Helper()
	if k.openpgp != nil {
		b, err := armorEncode(armorPublicKey, k.openpgp.entity.Serialize)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pub, err := k.sigstore.verifier.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
