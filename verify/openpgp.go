package verify

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
)

// Armor block types.
const (
	armorPublicKey  = "PGP PUBLIC KEY BLOCK"
	armorPrivateKey = "PGP PRIVATE KEY BLOCK"
	armorSignature  = "PGP SIGNATURE"
)

// minRSABits is the smallest RSA modulus accepted in an OpenPGP key.
const minRSABits = 2048

// openpgpKey is an OpenPGP certificate (public key, subkeys, user ids and
// their self-signatures) that signatures are checked against.
type openpgpKey struct {
	entity *openpgp.Entity
}

// newOpenPGPConfig is the configuration ferry signs and generates with.
// Keys are legacy EdDSA (Ed25519) v4 keys: small, fast, and verifiable by
// gpg 2.2, which predates the RFC 9580 algorithms. Signatures use SHA-256.
func newOpenPGPConfig() *packet.Config {
	return &packet.Config{
		Algorithm:     packet.PubKeyAlgoEdDSA,
		Curve:         packet.Curve25519,
		DefaultHash:   crypto.SHA256,
		DefaultCipher: packet.CipherAES256,
		S2KConfig: &s2k.Config{
			S2KMode:  s2k.IteratedSaltedS2K,
			Hash:     crypto.SHA256,
			S2KCount: 65011712, // the largest count OpenPGP can encode
		},
	}
}

func generateOpenPGPKey(userID string, passphrase []byte) (priv, pub []byte, err error) {
	name, email := splitUserID(userID)
	if name == "" && email == "" {
		return nil, nil, errors.New("a name is required for the OpenPGP user id")
	}
	cfg := newOpenPGPConfig()
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("user id %q: %w", userID, err)
	}
	// The self-signatures are made now, while the key is in the clear;
	// after encryption the key is serialised without signing again.
	if err := e.EncryptPrivateKeys(passphrase, cfg); err != nil {
		return nil, nil, fmt.Errorf("encrypt private key: %w", err)
	}
	priv, err = armorEncode(armorPrivateKey, func(w io.Writer) error { return e.SerializePrivateWithoutSigning(w, cfg) })
	if err != nil {
		return nil, nil, fmt.Errorf("encode private key: %w", err)
	}
	pub, err = armorEncode(armorPublicKey, e.Serialize)
	if err != nil {
		return nil, nil, fmt.Errorf("encode public key: %w", err)
	}
	return priv, pub, nil
}

// splitUserID accepts "Name <email>" or a plain name.
func splitUserID(s string) (name, email string) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ">") {
		if i := strings.LastIndexByte(s, '<'); i >= 0 {
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1 : len(s)-1])
		}
	}
	return s, ""
}

func armorEncode(blockType string, write func(io.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, blockType, nil)
	if err != nil {
		return nil, err
	}
	if err := write(w); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// readOpenPGPEntity reads exactly one OpenPGP key, armored or binary, and
// returns it with the armor type ("" for binary input).
func readOpenPGPEntity(data []byte) (*openpgp.Entity, string, error) {
	var (
		r         io.Reader = bytes.NewReader(data)
		armorType string
	)
	if detectFormat(data) == formatOpenPGPArmor {
		if n := bytes.Count(data, []byte("-----BEGIN PGP ")); n != 1 {
			return nil, "", fmt.Errorf("%d armored blocks: the file must hold exactly one key", n)
		}
		block, err := armor.Decode(r)
		if err != nil {
			return nil, "", fmt.Errorf("OpenPGP armor: %w", err)
		}
		if block.Type != armorPublicKey && block.Type != armorPrivateKey {
			return nil, "", fmt.Errorf("armored block %q is not an OpenPGP key", block.Type)
		}
		r, armorType = block.Body, block.Type
	}
	list, err := openpgp.ReadKeyRing(r)
	if err != nil {
		return nil, "", fmt.Errorf("OpenPGP key: %w", err)
	}
	if len(list) != 1 {
		return nil, "", fmt.Errorf("the file holds %d OpenPGP keys: export exactly one", len(list))
	}
	return list[0], armorType, nil
}

// parseOpenPGPPublicKey reads an OpenPGP certificate and checks that it can
// sign with an algorithm ferry accepts.
func parseOpenPGPPublicKey(data []byte) (*PublicKey, error) {
	e, armorType, err := readOpenPGPEntity(data)
	if err != nil {
		return nil, err
	}
	if e.PrivateKey != nil || armorType == armorPrivateKey {
		return nil, errors.New("this is an OpenPGP secret key: give the public key (gpg --export --armor)")
	}
	return newOpenPGPPublicKey(e)
}

func newOpenPGPPublicKey(e *openpgp.Entity) (*PublicKey, error) {
	fp := hex.EncodeToString(e.PrimaryKey.Fingerprint)
	if len(fp) != openpgpV4IDLen && len(fp) != openpgpV6IDLen {
		return nil, fmt.Errorf("OpenPGP key version %d is not supported", e.PrimaryKey.Version)
	}
	if err := checkOpenPGPAlgorithm(e.PrimaryKey); err != nil {
		return nil, fmt.Errorf("OpenPGP key %s: primary key: %w", fp, err)
	}
	// Key flags are required, as they are when a signature is checked: a
	// key that does not say it signs is not taken to sign.
	canSign := false
	if sig, _ := e.PrimarySelfSignature(); sig != nil && sig.FlagsValid && sig.FlagSign {
		canSign = true
	}
	// The primary key is material whether or not it signs: it certifies
	// the subkeys, so its holder can sign through them.
	material := []string{openpgpMaterial(e.PrimaryKey)}
	for _, sub := range e.Subkeys {
		if sub.Sig == nil || !sub.Sig.FlagsValid || !sub.Sig.FlagSign {
			continue
		}
		if err := checkOpenPGPAlgorithm(sub.PublicKey); err != nil {
			return nil, fmt.Errorf("OpenPGP key %s: signing subkey %s: %w", fp, sub.PublicKey.KeyIdString(), err)
		}
		canSign = true
		material = append(material, openpgpMaterial(sub.PublicKey))
	}
	if !canSign {
		return nil, fmt.Errorf("OpenPGP key %s has no key marked for signing", fp)
	}
	slices.Sort(material)
	material = slices.Compact(material)
	return &PublicKey{typ: KeyOpenPGP, id: fp, material: material, openpgp: &openpgpKey{entity: e}}, nil
}

// checkOpenPGPAlgorithm refuses algorithms that cannot sign or are too
// weak to trust with a release: DSA, ElGamal and short RSA keys.
func checkOpenPGPAlgorithm(pk *packet.PublicKey) error {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, err := pk.BitLength()
		if err != nil {
			return err
		}
		if bits < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too short (at least %d)", bits, minRSABits)
		}
		return nil
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519, packet.PubKeyAlgoEd448:
		return nil
	case packet.PubKeyAlgoECDSA:
		curve, err := pk.Curve()
		if err != nil {
			return err
		}
		if curve == packet.CurveSecP256k1 {
			return fmt.Errorf("ECDSA curve %s is not supported", curve)
		}
		return nil
	}
	return fmt.Errorf("public key algorithm %d is not supported for signing (want RSA, EdDSA or ECDSA)", pk.PubKeyAlgo)
}

// verify checks an armored detached signature over message.
//
// Validity periods (key expiry, revocations other than for compromise,
// self-signature times) are judged at the signature's creation time, not
// by this host's clock: an appliance whose clock is wrong, or that has been
// offline for years, must reach the same answer as any other host. A key
// that was valid when it signed stays valid for that signature; retiring
// keys is the job of the trust set. If a judgement at the creation time
// fails, the host's clock is tried too, since a key whose self-signature
// was renewed after the signature was made looks not yet valid at the
// earlier time. A signature's own expiry is thereby not enforced: when a
// bundle stops being acceptable is said by the expiry in its signed
// manifest, which the installer judges against its high-water clock.
func (k *openpgpKey) verify(message, data []byte) error {
	sig, err := readDetachedSignature(data)
	if err != nil {
		return err
	}
	keyring := openpgp.EntityList{k.entity}
	check := func(at time.Time) error {
		cfg := &packet.Config{Time: func() time.Time { return at }}
		_, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(message), bytes.NewReader(data), cfg)
		return err
	}
	err = check(sig.CreationTime)
	if errors.Is(err, pgperrors.ErrKeyExpired) || errors.Is(err, pgperrors.ErrSignatureExpired) {
		if now := time.Now(); now.After(sig.CreationTime) {
			if check(now) == nil {
				return nil
			}
		}
	}
	return err
}

// acceptedHash reports whether an OpenPGP signature may use digest h.
// SHA-1 and older are collision-prone and refused.
func acceptedHash(h crypto.Hash) bool {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256, crypto.SHA3_512:
		return true
	}
	return false
}

// readDetachedSignature parses an armored detached signature strictly: one
// armored block holding one binary-document signature packet. A text
// signature is refused because it normalises line endings, so it would
// also cover a manifest whose bytes differ from the signed ones.
func readDetachedSignature(data []byte) (*packet.Signature, error) {
	if detectFormat(data) != formatOpenPGPArmor {
		return nil, errors.New("not an armored OpenPGP signature")
	}
	if n := bytes.Count(data, []byte("-----BEGIN PGP ")); n != 1 {
		return nil, fmt.Errorf("%d armored blocks, want one signature", n)
	}
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("OpenPGP armor: %w", err)
	}
	if block.Type != armorSignature {
		return nil, fmt.Errorf("armored block %q is not a signature", block.Type)
	}
	packets := packet.NewReader(block.Body)
	p, err := packets.Next()
	if err != nil {
		return nil, fmt.Errorf("read signature packet: %w", err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return nil, fmt.Errorf("packet %T is not a signature", p)
	}
	if _, err := packets.Next(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, errors.New("more than one packet: want one detached signature")
		}
		return nil, fmt.Errorf("after the signature packet: %w", err)
	}
	if sig.SigType != packet.SigTypeBinary {
		return nil, fmt.Errorf("signature type %#x is not a binary document signature", sig.SigType)
	}
	if !acceptedHash(sig.Hash) {
		return nil, fmt.Errorf("signature digest %v is not accepted (want SHA-256 or stronger)", sig.Hash)
	}
	return sig, nil
}

// openpgpSigner signs with a decrypted OpenPGP secret key.
type openpgpSigner struct {
	pub    *PublicKey
	entity *openpgp.Entity
}

func loadOpenPGPSigner(data, passphrase []byte) (Signer, error) {
	e, armorType, err := readOpenPGPEntity(data)
	if err != nil {
		return nil, err
	}
	if e.PrivateKey == nil || armorType == armorPublicKey {
		return nil, errors.New("this is an OpenPGP public key: give the secret key (gpg --export-secret-keys --armor)")
	}
	fp := hex.EncodeToString(e.PrimaryKey.Fingerprint)
	if !openpgpEncrypted(e) {
		return nil, fmt.Errorf("OpenPGP secret key %s is not protected by a passphrase: ferry keeps private keys encrypted at rest", fp)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("OpenPGP secret key %s is encrypted and no passphrase was given: %w", fp, ErrBadPassphrase)
	}
	if err := e.DecryptPrivateKeys(passphrase); err != nil {
		// The secret key packets parsed, so a failure here is the
		// passphrase's checksum or integrity check.
		return nil, fmt.Errorf("decrypt OpenPGP secret key %s: %w (%w)", fp, ErrBadPassphrase, err)
	}
	return newOpenPGPSigner(e)
}

// newOpenPGPSigner wraps an entity whose secret keys are decrypted.
func newOpenPGPSigner(e *openpgp.Entity) (Signer, error) {
	fp := hex.EncodeToString(e.PrimaryKey.Fingerprint)
	// The public key is read back from its serialised form, so that it
	// is exactly what `gpg --export` of this key would give a verifier.
	var pubBytes bytes.Buffer
	if err := e.Serialize(&pubBytes); err != nil {
		return nil, fmt.Errorf("OpenPGP key %s: public part: %w", fp, err)
	}
	pubEntity, _, err := readOpenPGPEntity(pubBytes.Bytes())
	if err != nil {
		return nil, fmt.Errorf("OpenPGP key %s: public part: %w", fp, err)
	}
	pub, err := newOpenPGPPublicKey(pubEntity)
	if err != nil {
		return nil, err
	}
	key, ok := e.SigningKey(time.Now())
	if !ok || key.PrivateKey == nil || key.PrivateKey.Dummy() || key.PrivateKey.Encrypted {
		return nil, fmt.Errorf("OpenPGP key %s has no usable signing key: it is expired or revoked, or its secret part was not exported", fp)
	}
	return &openpgpSigner{pub: pub, entity: e}, nil
}

// openpgpEncrypted reports whether the secret key material is protected.
// A gpg export of a passphrase-protected key encrypts every secret part; a
// stub ("gnu-dummy", from --export-secret-subkeys) has nothing to protect.
func openpgpEncrypted(e *openpgp.Entity) bool {
	keys := []*packet.PrivateKey{e.PrivateKey}
	for _, sub := range e.Subkeys {
		keys = append(keys, sub.PrivateKey)
	}
	found := false
	for _, k := range keys {
		if k == nil || k.Dummy() {
			continue
		}
		if !k.Encrypted {
			return false
		}
		found = true
	}
	return found
}

func (s *openpgpSigner) Public() *PublicKey { return s.pub }

func (s *openpgpSigner) Sign(message []byte) (Signature, error) {
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, s.entity, bytes.NewReader(message), newOpenPGPConfig()); err != nil {
		return Signature{}, fmt.Errorf("sign with %s: %w", s.pub, err)
	}
	buf.WriteByte('\n')
	return Signature{KeyID: s.pub.id, Type: KeyOpenPGP, Data: buf.Bytes()}, nil
}
