package verify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgpecdsa "github.com/ProtonMail/go-crypto/openpgp/ecdsa"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"ferry/internal/strictjson"
)

// twoEncodings makes one private key of type kt (ECDSA P-256 or Ed25519)
// and returns a signer for it in each encoding: as a sigstore-style (PEM)
// key and as the primary key of a real OpenPGP certificate. Whoever holds
// the one private key holds both.
func twoEncodings(t testing.TB, kt KeyType) (pem, pgp Signer) {
	t.Helper()
	cfg := newOpenPGPConfig()
	if kt == KeyECDSAP256 {
		cfg.Algorithm, cfg.Curve = packet.PubKeyAlgoECDSA, packet.CurveNistP256
	}
	e, err := openpgp.NewEntity("same key", "", "same@ferry.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var priv any
	switch k := e.PrivateKey.PrivateKey.(type) {
	case *pgpecdsa.PrivateKey:
		if priv, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), k.D.FillBytes(make([]byte, 32))); err != nil {
			t.Fatal(err)
		}
	case *eddsa.PrivateKey:
		priv = ed25519.NewKeyFromSeed(k.D)
	default:
		t.Fatalf("OpenPGP private key %T", k)
	}
	if pem, err = newSigstoreSigner(priv); err != nil {
		t.Fatal(err)
	}
	if pgp, err = newOpenPGPSigner(e); err != nil {
		t.Fatal(err)
	}
	if pem.Public().ID() == pgp.Public().ID() {
		t.Fatal("the two encodings have one id")
	}
	return pem, pgp
}

// TestThresholdSameKeyTwoEncodings is the attack of one private key
// signing a bundle twice, once as a PEM key and once as an OpenPGP
// certificate wrapping it, to meet a threshold of 2 alone: the two count
// as one key, and a set of only those two can never ask for 2.
func TestThresholdSameKeyTwoEncodings(t *testing.T) {
	for _, kt := range []KeyType{KeyECDSAP256, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			pem, pgp := twoEncodings(t, kt)
			if !pem.Public().SharesMaterial(pgp.Public()) {
				t.Fatalf("%s and %s do not share key material", pem.Public(), pgp.Public())
			}
			other := newSigner(t, KeyEd25519)
			sigs := []Signature{sign(t, pem, testMessage), sign(t, pgp, testMessage)}
			ts := TrustSet{Keys: []*PublicKey{pem.Public(), pgp.Public(), other.Public()}, Threshold: 2}
			if got, err := ts.Verify(testMessage, sigs); !errors.Is(err, ErrBelowThreshold) {
				t.Fatalf("two encodings of one key met a threshold of 2: %v, %v", got, err)
			}
			got, err := ts.Verify(testMessage, append(sigs, sign(t, other, testMessage)))
			if err != nil || len(got) != 2 {
				t.Fatalf("with a second key: %v, %v; want 2 keys", got, err)
			}
			ts.Keys = ts.Keys[:2]
			if _, err := ts.Verify(testMessage, sigs); !errors.Is(err, ErrInvalidTrustSet) {
				t.Fatalf("threshold 2 of one key in two encodings: %v, want ErrInvalidTrustSet", err)
			}
			if n := ts.DistinctKeys(); n != 1 {
				t.Errorf("DistinctKeys: %d, want 1", n)
			}
		})
	}
}

// TestRotationSameKeyTwoEncodings is the attack of a rotation statement
// that lists one key twice, as a PEM and as an OpenPGP certificate, so
// that one key meets a threshold of 2: it is refused when written and
// when read.
func TestRotationSameKeyTwoEncodings(t *testing.T) {
	old := newSigner(t, KeyEd25519)
	pem, pgp := twoEncodings(t, KeyECDSAP256)
	texts := keyTexts(t, pem, pgp)
	if _, err := SignRotation(1, 2, texts, testIssued, old); err == nil || !strings.Contains(err.Error(), "same key") {
		t.Fatalf("SignRotation of one key in two encodings: %v, want it refused as the same key", err)
	}
	// A statement written by hand, as an attacker holding the old key
	// would, is refused by every reader.
	keys := []string{string(texts[0]), string(texts[1])}
	if pem.Public().ID() > pgp.Public().ID() {
		keys[0], keys[1] = keys[1], keys[0]
	}
	payload := rotationJSON{Issued: testIssued.Format("2006-01-02T15:04:05Z"), Keys: keys, Sequence: 1, Threshold: 2}
	b, err := strictjson.MarshalCanonical(payload)
	if err != nil {
		t.Fatal(err)
	}
	data := signedPayload(t, b, old)
	if _, err := ParseRotation(data); !errors.Is(err, ErrRotation) || !strings.Contains(err.Error(), "same key") {
		t.Fatalf("ParseRotation of one key in two encodings: %v, want ErrRotation naming the same key", err)
	}
	if _, _, err := WalkRotations(trustOf(1, old), [][]byte{data}); !errors.Is(err, ErrRotation) {
		t.Fatalf("WalkRotations: %v, want ErrRotation", err)
	}
}
