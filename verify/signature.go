package verify

import (
	"fmt"
	"strings"
)

// Directory and extensions of signature entries in a bundle.
const (
	signatureDir    = "signatures/"
	sigstoreSigExt  = ".sig"
	openpgpSigExt   = ".asc"
	maxSigEntryName = len(signatureDir) + openpgpV6IDLen + len(openpgpSigExt)
)

// Signature is one signature over a message, as stored in a bundle entry.
//
// Data is kept in the form the standard tools read, so that an assessor can
// check an extracted bundle without ferry: for sigstore-style keys it is
// the base64 text of the raw signature (what `cosign sign-blob` prints, so
// `cosign verify-blob --key k.pub --signature FILE manifest.json` works);
// for OpenPGP keys it is an ASCII-armored detached signature (so
// `gpg --verify FILE manifest.json` works).
type Signature struct {
	KeyID string
	Type  KeyType
	Data  []byte
}

// FileName returns the bundle entry name for the signature:
// "signatures/<keyid>.sig" for sigstore-style keys and
// "signatures/<keyid>.asc" for OpenPGP keys. The extensions are the ones
// cosign and gpg users expect.
func (s Signature) FileName() string {
	if s.Type == KeyOpenPGP {
		return signatureDir + s.KeyID + openpgpSigExt
	}
	return signatureDir + s.KeyID + sigstoreSigExt
}

// ParseSignatureName is the inverse of FileName. It is strict, because
// the name comes from an untrusted bundle: the id must be lowercase hex of
// the length the type implies, and nothing else may be in the name. A
// ".sig" entry is a sigstore-style signature; its exact type (ECDSA or
// Ed25519) is the trusted key's, so KeyECDSAP256 is returned as a stand-in
// and the key decides.
func ParseSignatureName(name string) (keyID string, t KeyType, err error) {
	if len(name) > maxSigEntryName {
		return "", "", fmt.Errorf("signature entry name %.*q...: too long", maxSigEntryName, name)
	}
	rest, ok := strings.CutPrefix(name, signatureDir)
	if !ok {
		return "", "", fmt.Errorf("signature entry %q: not under %s", name, signatureDir)
	}
	switch {
	case strings.HasSuffix(rest, sigstoreSigExt):
		keyID = strings.TrimSuffix(rest, sigstoreSigExt)
		if len(keyID) != sigstoreIDLen || !isLowerHex(keyID) {
			return "", "", fmt.Errorf("signature entry %q: key id must be %d lowercase hex digits", name, sigstoreIDLen)
		}
		return keyID, KeyECDSAP256, nil
	case strings.HasSuffix(rest, openpgpSigExt):
		keyID = strings.TrimSuffix(rest, openpgpSigExt)
		if (len(keyID) != openpgpV4IDLen && len(keyID) != openpgpV6IDLen) || !isLowerHex(keyID) {
			return "", "", fmt.Errorf("signature entry %q: key id must be an OpenPGP fingerprint of %d or %d lowercase hex digits", name, openpgpV4IDLen, openpgpV6IDLen)
		}
		return keyID, KeyOpenPGP, nil
	}
	return "", "", fmt.Errorf("signature entry %q: unknown extension (want %s or %s)", name, sigstoreSigExt, openpgpSigExt)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
