package verify

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signer signs manifest bytes with one private key.
type Signer interface {
	// Public returns the public half of the key, which names the
	// signature's key id and type.
	Public() *PublicKey
	// Sign returns a signature over message in its bundle form.
	Sign(message []byte) (Signature, error)
}

// LoadSigner reads a private key and decrypts it with passphrase. The
// format is detected: an encrypted sigstore PEM ("ENCRYPTED SIGSTORE
// PRIVATE KEY", what `ferry keys generate` and current cosign write), an
// encrypted cosign PEM ("ENCRYPTED COSIGN PRIVATE KEY", older cosign), or
// an OpenPGP secret key, armored or binary (`gpg --export-secret-keys`).
//
// Unencrypted keys are refused: the security model keeps private keys
// encrypted at rest. A wrong or missing passphrase wraps ErrBadPassphrase.
func LoadSigner(data, passphrase []byte) (Signer, error) {
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("private key: %d bytes: %w (%d bytes)", len(data), ErrTooLarge, MaxKeySize)
	}
	var (
		s   Signer
		err error
	)
	switch detectFormat(data) {
	case formatPEM:
		block, rest := pem.Decode(data)
		switch {
		case block == nil:
			err = errors.New("malformed PEM")
		case len(bytes.TrimSpace(rest)) != 0:
			err = errors.New("unexpected data after the PEM block: the file must hold exactly one key")
		default:
			s, err = loadSigstoreSigner(block, passphrase)
		}
	case formatOpenPGPArmor, formatOpenPGPBinary:
		s, err = loadOpenPGPSigner(data, passphrase)
	default:
		err = errUnknownKeyFormat
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return s, nil
}

// NewSigner wraps an in-memory ECDSA P-256 or Ed25519 private key: for keys
// that are never written to disk, such as ephemeral keys in tests.
func NewSigner(priv crypto.PrivateKey) (Signer, error) {
	return newSigstoreSigner(priv)
}
