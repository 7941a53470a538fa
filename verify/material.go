package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"slices"

	pgpecdsa "github.com/ProtonMail/go-crypto/openpgp/ecdsa"
	pgped25519 "github.com/ProtonMail/go-crypto/openpgp/ed25519"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key material is what a key id does not capture: one private key can be
// written as a PEM key and wrapped in an OpenPGP certificate, and the two
// have different ids (a hash of the PKIX encoding, a fingerprint) though
// one holder signs for both. Counting them as two keys would let one
// holder meet a threshold of 2 alone. So every key also carries the
// material of each key it signs with, named the same way for every
// encoding: the SHA-256 of the PKIX DER encoding of the public key, which
// is the id of a PEM key.

// Material returns the names of the signing key material k holds, sorted:
// one for a PEM key (its id), and for an OpenPGP certificate one for the
// primary key and one for each signing subkey.
func (k *PublicKey) Material() []string {
	if k == nil {
		return nil
	}
	return slices.Clone(k.material)
}

// SharesMaterial reports whether k and o hold a signing key in common:
// then they are one key, whatever their encodings and ids.
func (k *PublicKey) SharesMaterial(o *PublicKey) bool {
	if k == nil || o == nil {
		return false
	}
	for _, m := range k.material {
		if _, found := slices.BinarySearch(o.material, m); found {
			return true
		}
	}
	return false
}

// pkixMaterial names pub by the SHA-256 of its PKIX DER encoding.
func pkixMaterial(pub crypto.PublicKey) (string, bool) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), true
}

// openpgpMaterial names the key material of one OpenPGP key packet: the
// PKIX name of the same key for RSA, ECDSA on the NIST curves and
// Ed25519, which PEM can hold too; for the others (Brainpool, Ed448),
// which no PEM key ferry reads can hold, the packet's fingerprint.
func openpgpMaterial(pk *packet.PublicKey) string {
	if pub := openpgpCryptoKey(pk); pub != nil {
		if m, ok := pkixMaterial(pub); ok {
			return m
		}
	}
	return "openpgp:" + hex.EncodeToString(pk.Fingerprint)
}

// openpgpCryptoKey converts an OpenPGP public key to the standard
// library's form, or returns nil.
func openpgpCryptoKey(pk *packet.PublicKey) crypto.PublicKey {
	switch k := pk.PublicKey.(type) {
	case *rsa.PublicKey:
		return k
	case *pgpecdsa.PublicKey:
		var c elliptic.Curve
		switch curve, _ := pk.Curve(); curve {
		case packet.CurveNistP256:
			c = elliptic.P256()
		case packet.CurveNistP384:
			c = elliptic.P384()
		case packet.CurveNistP521:
			c = elliptic.P521()
		default:
			return nil
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, k.MarshalPoint())
		if err != nil {
			return nil
		}
		return pub
	case *eddsa.PublicKey:
		if curve, _ := pk.Curve(); curve == packet.Curve25519 && len(k.X) == ed25519.PublicKeySize {
			return ed25519.PublicKey(slices.Clone(k.X))
		}
	case *pgped25519.PublicKey:
		if len(k.Point) == ed25519.PublicKeySize {
			return ed25519.PublicKey(slices.Clone(k.Point))
		}
	}
	return nil
}
