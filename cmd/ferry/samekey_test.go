package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgpecdsa "github.com/ProtonMail/go-crypto/openpgp/ecdsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// cmdSameKey writes one ECDSA P-256 key pair in two encodings, as an
// attacker holding one private key would: NAME.key and NAME.pub, a
// sigstore-style pair, and NAME-pgp.key and NAME-pgp.pub, an OpenPGP key
// whose primary key is the same key. Both private keys are encrypted with
// FERRY_PASSPHRASE: samekey NAME
func cmdSameKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: samekey NAME")
	}
	pass := []byte(ts.Getenv("FERRY_PASSPHRASE"))
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoECDSA, Curve: packet.CurveNistP256, DefaultHash: crypto.SHA256}
	e, err := openpgp.NewEntity("same key", "", "same@ferry.invalid", cfg)
	ts.Check(err)
	k := e.PrivateKey.PrivateKey.(*pgpecdsa.PrivateKey)
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.D.FillBytes(make([]byte, 32)))
	ts.Check(err)
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.StaticPasswordFunc(pass))
	ts.Check(err)
	pub, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	ts.Check(err)
	write := func(name string, data []byte) { ts.Check(os.WriteFile(ts.MkAbs(name), data, 0o600)) }
	write(args[0]+".key", cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der))
	write(args[0]+".pub", pub)

	pgpArmor := func(blockType string, serialize func(w *bytes.Buffer) error) []byte {
		var buf bytes.Buffer
		w, err := armor.Encode(&buf, blockType, nil)
		ts.Check(err)
		var body bytes.Buffer
		ts.Check(serialize(&body))
		_, err = w.Write(body.Bytes())
		ts.Check(err)
		ts.Check(w.Close())
		buf.WriteByte('\n')
		return buf.Bytes()
	}
	write(args[0]+"-pgp.pub", pgpArmor("PGP PUBLIC KEY BLOCK", func(b *bytes.Buffer) error { return e.Serialize(b) }))
	ts.Check(e.EncryptPrivateKeys(pass, cfg))
	write(args[0]+"-pgp.key", pgpArmor("PGP PRIVATE KEY BLOCK", func(b *bytes.Buffer) error { return e.SerializePrivateWithoutSigning(b, cfg) }))
}
