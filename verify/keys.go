package verify

import (
	"bytes"
	"errors"
	"fmt"
)

// KeyType names a signature scheme.
type KeyType string

// The supported key types.
const (
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyEd25519   KeyType = "ed25519"
	KeyOpenPGP   KeyType = "openpgp"
)

// Size caps, checked before any parsing.
const (
	// MaxSignatureSize bounds one signature. Real ones are far smaller: a
	// few hundred bytes, or a few KiB for an armored RSA-4096 signature.
	MaxSignatureSize = 64 << 10

	// MaxKeySize bounds a key file, public or private. A gpg export with
	// many user ids and certifications stays well below it.
	MaxKeySize = 1 << 20
)

// Lengths of key ids in hex digits.
const (
	sigstoreIDLen  = 64 // SHA-256 of the PKIX DER encoding
	openpgpV4IDLen = 40 // v4 fingerprint (SHA-1)
	openpgpV6IDLen = 64 // v5 and v6 fingerprints (SHA-256)
)

// isSigstore reports whether t is one of the sigstore-style key types.
func (t KeyType) isSigstore() bool { return t == KeyECDSAP256 || t == KeyEd25519 }

func (t KeyType) valid() bool { return t.isSigstore() || t == KeyOpenPGP }

// GenerateKey makes a new key pair of type t and returns the private key,
// encrypted with passphrase, and the public key.
//
// Sigstore-style keys come as an "ENCRYPTED SIGSTORE PRIVATE KEY" PEM (what
// cosign writes) and a PKIX "PUBLIC KEY" PEM. OpenPGP keys come as armored
// private and public key blocks that gpg imports; name becomes the user id
// and may be a plain name or "Name <email>". Generated keys never expire:
// a host that stays offline for years must still accept them, and retiring
// a key is the job of the trust set, not of a clock.
func GenerateKey(t KeyType, name string, passphrase []byte) (priv, pub []byte, err error) {
	if len(passphrase) == 0 {
		return nil, nil, fmt.Errorf("generate %s key: a passphrase is required: private keys are stored encrypted", t)
	}
	switch t {
	case KeyECDSAP256, KeyEd25519:
		priv, pub, err = generateSigstoreKey(t, passphrase)
	case KeyOpenPGP:
		priv, pub, err = generateOpenPGPKey(name, passphrase)
	default:
		return nil, nil, fmt.Errorf("generate key: unknown key type %q (want %s, %s or %s)", t, KeyECDSAP256, KeyEd25519, KeyOpenPGP)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generate %s key: %w", t, err)
	}
	return priv, pub, nil
}

// PublicKey is a key that signatures can be checked against. It is
// immutable and safe for concurrent use.
type PublicKey struct {
	typ KeyType
	id  string
	// material names the signing keys held, sorted (see Material).
	material []string
	sigstore *sigstoreKey
	openpgp  *openpgpKey
}

// ParsePublicKey reads a public key: a PKIX "PUBLIC KEY" PEM holding an
// ECDSA P-256 or Ed25519 key (cosign's format), or an OpenPGP public key,
// armored or binary (what `gpg --export [--armor]` writes). The file must
// hold exactly one key.
func ParsePublicKey(data []byte) (*PublicKey, error) {
	if len(data) > MaxKeySize {
		return nil, fmt.Errorf("public key: %d bytes: %w (%d bytes)", len(data), ErrTooLarge, MaxKeySize)
	}
	var (
		k   *PublicKey
		err error
	)
	switch detectFormat(data) {
	case formatPEM:
		k, err = parseSigstorePublicKey(data)
	case formatOpenPGPArmor, formatOpenPGPBinary:
		k, err = parseOpenPGPPublicKey(data)
	default:
		err = errUnknownKeyFormat
	}
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return k, nil
}

// ID returns the key's stable identifier in lowercase hex: the SHA-256 of
// the PKIX DER encoding for sigstore-style keys, the primary key
// fingerprint for OpenPGP keys (what `gpg --fingerprint` shows).
func (k *PublicKey) ID() string {
	if k == nil {
		return ""
	}
	return k.id
}

// Type returns the key's signature scheme.
func (k *PublicKey) Type() KeyType {
	if k == nil {
		return ""
	}
	return k.typ
}

// String returns the type and id, for messages.
func (k *PublicKey) String() string {
	if k == nil {
		return "<nil key>"
	}
	return string(k.typ) + " key " + k.id
}

// Verify checks that sig is a valid signature over message by this key.
// A signature naming another key id fails too, as does one of the other
// family (OpenPGP for a sigstore-style key or the reverse). Between ECDSA
// and Ed25519 the key decides: a ".sig" entry name cannot tell them apart,
// and the key id already pins the exact key and its algorithm. Every failure wraps
// ErrBadSignature, except an oversized signature, which wraps ErrTooLarge.
func (k *PublicKey) Verify(message []byte, sig Signature) error {
	if k == nil || (k.sigstore == nil && k.openpgp == nil) {
		return fmt.Errorf("verify: no public key")
	}
	if len(sig.Data) > MaxSignatureSize {
		return fmt.Errorf("signature by key %s: %d bytes: %w (%d bytes)", k.id, len(sig.Data), ErrTooLarge, MaxSignatureSize)
	}
	if sig.KeyID != "" && sig.KeyID != k.id {
		return fmt.Errorf("signature names key %.64s, not %s: %w", sig.KeyID, k.id, ErrBadSignature)
	}
	if sig.Type != "" && (!sig.Type.valid() || sig.Type.isSigstore() != k.typ.isSigstore()) {
		return fmt.Errorf("signature by key %s is of type %.20q, the key is %s: %w", k.id, sig.Type, k.typ, ErrBadSignature)
	}
	var err error
	if k.sigstore != nil {
		err = k.sigstore.verify(message, sig.Data)
	} else {
		err = k.openpgp.verify(message, sig.Data)
	}
	if err != nil {
		return fmt.Errorf("%s key %s: %w: %w", k.typ, k.id, ErrBadSignature, err)
	}
	return nil
}

// keyFormat is the container a key file is in, found by looking at it.
type keyFormat int

const (
	formatUnknown keyFormat = iota
	formatPEM
	formatOpenPGPArmor
	formatOpenPGPBinary
)

var errUnknownKeyFormat = errors.New("unrecognised format: want a PEM key (cosign, sigstore) or an OpenPGP key (gpg --export)")

// detectFormat tells PEM, armored OpenPGP and binary OpenPGP apart. Both
// PEM and armor start with "-----BEGIN "; armor always says "PGP" next.
func detectFormat(data []byte) keyFormat {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP ")):
		return formatOpenPGPArmor
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN ")):
		return formatPEM
	case len(data) > 0 && data[0]&0x80 != 0:
		// Every OpenPGP packet header has the top bit set.
		return formatOpenPGPBinary
	}
	return formatUnknown
}
