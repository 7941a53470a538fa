package verify

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/pem"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// TestCosignKeyPair: a key pair made the way `cosign generate-key-pair`
// makes it loads in ferry, under both the current PEM type and the one
// older cosign releases wrote, and signatures cross in both directions the
// way `cosign sign-blob` and `cosign verify-blob` make and check them.
func TestCosignKeyPair(t *testing.T) {
	t.Parallel()
	pass := []byte(testPassphrase)
	privPEM, pubPEM, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc(pass))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(privPEM)
	if block == nil || block.Type != "ENCRYPTED SIGSTORE PRIVATE KEY" {
		t.Fatalf("cryptoutils wrote %q", firstLine(privPEM))
	}
	// Older cosign wrote the same encrypted bytes under another name.
	legacyPEM := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED COSIGN PRIVATE KEY", Bytes: block.Bytes})

	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatalf("ParsePublicKey(cosign.pub): %v", err)
	}
	if pub.Type() != KeyECDSAP256 {
		t.Fatalf("type %s", pub.Type())
	}

	// The current PEM type is what GenerateKey writes and is covered by
	// the round-trip tests; the scrypt KDF is too slow to repeat here.
	t.Run("legacy", func(t *testing.T) {
		t.Parallel()
		signer, err := LoadSigner(legacyPEM, pass)
		if err != nil {
			t.Fatalf("LoadSigner: %v", err)
		}
		if signer.Public().ID() != pub.ID() {
			t.Fatalf("signer id %s, public key id %s", signer.Public().ID(), pub.ID())
		}
		sig := sign(t, signer, testMessage)
		if err := pub.Verify(testMessage, sig); err != nil {
			t.Fatalf("verify: %v", err)
		}
		cosignVerifyBlob(t, pubPEM, sig.Data, testMessage)
	})

	t.Run("sign-blob", func(t *testing.T) {
		t.Parallel()
		// What `cosign sign-blob --key cosign.key` does.
		key, err := cryptoutils.UnmarshalPEMToPrivateKey(legacyPEM, cryptoutils.StaticPasswordFunc(pass))
		if err != nil {
			t.Fatal(err)
		}
		sv, err := signature.LoadSignerVerifier(key, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := sv.SignMessage(bytes.NewReader(testMessage))
		if err != nil {
			t.Fatal(err)
		}
		sig := Signature{KeyID: pub.ID(), Type: KeyECDSAP256, Data: []byte(base64.StdEncoding.EncodeToString(raw))}
		if _, err := (TrustSet{Keys: []*PublicKey{pub}}).Verify(testMessage, []Signature{sig}); err != nil {
			t.Fatalf("cosign's signature: %v", err)
		}
	})
}

// TestSigstoreSignaturesVerifyWithCosign checks ferry's signatures the way
// `cosign verify-blob --key k.pub --signature FILE` does, for both
// sigstore-style key types.
func TestSigstoreSignaturesVerifyWithCosign(t *testing.T) {
	for _, kt := range []KeyType{KeyECDSAP256, KeyEd25519} {
		g := testKey(t, kt)
		sig := sign(t, g.signer, testMessage)
		cosignVerifyBlob(t, g.pub, sig.Data, testMessage)
	}
}

func cosignVerifyBlob(t *testing.T, pubPEM, sigText, message []byte) {
	t.Helper()
	key, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.LoadVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(string(sigText))
	if err != nil {
		t.Fatalf("signature is not base64: %v", err)
	}
	if err := v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(message)); err != nil {
		t.Fatalf("sigstore verifier refuses ferry's signature: %v", err)
	}
	if err := v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(append(bytes.Clone(message), '!'))); err == nil {
		t.Fatal("sigstore verifier accepts a changed message")
	}
}
