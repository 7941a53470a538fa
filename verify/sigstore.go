package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PEM block types of encrypted sigstore-style private keys. Current cosign
// and sigstore write the first; cosign before v2.2 wrote the second, and
// its key pairs are still in use.
const (
	pemEncryptedSigstore = string(cryptoutils.EncryptedSigstorePrivateKeyPEMType)
	pemEncryptedCosign   = "ENCRYPTED COSIGN PRIVATE KEY"
	pemPublicKey         = string(cryptoutils.PublicKeyPEMType)
)

// sigstoreKey is the verifying half of an ECDSA P-256 or Ed25519 key.
// ECDSA signs the SHA-256 of the message; Ed25519 signs the message itself
// (pure Ed25519), as `cosign sign-blob` does.
type sigstoreKey struct {
	verifier signature.Verifier
}

func generateSigstoreKey(t KeyType, passphrase []byte) (priv, pub []byte, err error) {
	var key crypto.Signer
	switch t {
	case KeyECDSAP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("not a sigstore key type: %s", t)
	}
	if err != nil {
		return nil, nil, err
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(key, cryptoutils.StaticPasswordFunc(passphrase))
	if err != nil {
		return nil, nil, fmt.Errorf("encrypt private key: %w", err)
	}
	pub, err = cryptoutils.MarshalPublicKeyToPEM(key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("encode public key: %w", err)
	}
	return cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der), pub, nil
}

// parseSigstorePublicKey reads a PKIX "PUBLIC KEY" PEM. Exactly one block
// is allowed, so that a file cannot smuggle a second key past a reviewer.
func parseSigstorePublicKey(data []byte) (*PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("malformed PEM")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block: the file must hold exactly one key")
	}
	switch block.Type {
	case pemPublicKey:
	case pemEncryptedSigstore, pemEncryptedCosign, "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q is a private key: give the public key (.pub)", block.Type)
	default:
		return nil, fmt.Errorf("PEM block %q is not a PKIX public key (want %q)", block.Type, pemPublicKey)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pem.EncodeToMemory(block))
	if err != nil {
		return nil, fmt.Errorf("parse PKIX public key: %w", err)
	}
	return newSigstorePublicKey(pub)
}

// newSigstorePublicKey checks the algorithm and computes the key id from
// the canonical DER encoding, so that the id does not depend on how the
// file was written.
func newSigstorePublicKey(pub crypto.PublicKey) (*PublicKey, error) {
	var t KeyType
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA curve %s is not supported: ferry uses P-256 only", k.Curve.Params().Name)
		}
		t = KeyECDSAP256
	case ed25519.PublicKey:
		t = KeyEd25519
	default:
		return nil, fmt.Errorf("%T keys are not supported: use %s or %s", pub, KeyECDSAP256, KeyEd25519)
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return nil, fmt.Errorf("encode %s public key: %w", t, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("load %s verifier: %w", t, err)
	}
	sum := sha256.Sum256(der)
	id := hex.EncodeToString(sum[:])
	return &PublicKey{typ: t, id: id, material: []string{id}, sigstore: &sigstoreKey{verifier: v}}, nil
}

// verify checks data, the base64 text of a raw signature, over message.
// Surrounding white space is ignored: a signature file saved from a
// terminal usually ends in a newline.
func (k *sigstoreKey) verify(message, data []byte) error {
	text := bytes.TrimSpace(data)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(raw, text)
	if err != nil {
		return fmt.Errorf("not base64 text: %w", err)
	}
	if n == 0 {
		return errors.New("empty signature")
	}
	return k.verifier.VerifySignature(bytes.NewReader(raw[:n]), bytes.NewReader(message))
}

// sigstoreSigner signs with an ECDSA P-256 or Ed25519 private key.
type sigstoreSigner struct {
	pub    *PublicKey
	signer signature.Signer
}

// loadSigstoreSigner decrypts an encrypted sigstore or cosign PEM private
// key.
func loadSigstoreSigner(block *pem.Block, passphrase []byte) (Signer, error) {
	switch block.Type {
	case pemEncryptedSigstore, pemEncryptedCosign:
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q is an unencrypted private key: ferry keeps private keys encrypted at rest; make one with `ferry keys generate` or `cosign generate-key-pair`", block.Type)
	case pemPublicKey:
		return nil, errors.New("this is a public key: give the private key")
	default:
		return nil, fmt.Errorf("PEM block %q is not a supported private key (want %q or %q)", block.Type, pemEncryptedSigstore, pemEncryptedCosign)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("%s is encrypted and no passphrase was given: %w", block.Type, ErrBadPassphrase)
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pem.EncodeToMemory(block), cryptoutils.StaticPasswordFunc(passphrase))
	if err != nil {
		// The envelope is nacl/secretbox, which authenticates: a wrong
		// passphrase and a damaged file look the same, and the library
		// reports both only by this message.
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, fmt.Errorf("decrypt %s: %w", block.Type, ErrBadPassphrase)
		}
		return nil, fmt.Errorf("read %s: %w", block.Type, err)
	}
	return newSigstoreSigner(priv)
}

// newSigstoreSigner wraps a decrypted ECDSA P-256 or Ed25519 private key.
func newSigstoreSigner(priv crypto.PrivateKey) (Signer, error) {
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T private keys are not supported: use %s or %s", priv, KeyECDSAP256, KeyEd25519)
	}
	pub, err := newSigstorePublicKey(signer.Public())
	if err != nil {
		return nil, err
	}
	var s signature.Signer
	switch key := priv.(type) {
	case *ecdsa.PrivateKey:
		s, err = signature.LoadECDSASigner(key, crypto.SHA256)
	case ed25519.PrivateKey:
		s, err = signature.LoadED25519Signer(key)
	default:
		err = fmt.Errorf("%T private keys are not supported", priv)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s signer: %w", pub.typ, err)
	}
	return &sigstoreSigner{pub: pub, signer: s}, nil
}

func (s *sigstoreSigner) Public() *PublicKey { return s.pub }

func (s *sigstoreSigner) Sign(message []byte) (Signature, error) {
	raw, err := s.signer.SignMessage(bytes.NewReader(message))
	if err != nil {
		return Signature{}, fmt.Errorf("sign with %s: %w", s.pub, err)
	}
	return Signature{
		KeyID: s.pub.id,
		Type:  s.pub.typ,
		Data:  []byte(base64.StdEncoding.EncodeToString(raw)),
	}, nil
}
