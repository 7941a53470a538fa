package verify

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// The fuzz seeds are made in memory, without the passphrase round trip, so
// that each fuzz worker starts quickly; plain `go test` runs the seeds only.

func FuzzParsePublicKey(f *testing.F) {
	for _, kt := range allKeyTypes {
		pub := marshalPublicKey(f, newSigner(f, kt).Public())
		f.Add(pub)
		if kt == KeyOpenPGP {
			b, err := armor.Decode(bytes.NewReader(pub))
			if err != nil {
				f.Fatal(err)
			}
			var bin bytes.Buffer
			bin.ReadFrom(b.Body)
			f.Add(bin.Bytes())
			f.Add(bin.Bytes()[:bin.Len()/2])
		}
	}
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Add([]byte{0x99, 0x00, 0x0d, 0x04})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err != nil {
			return
		}
		if !k.Type().valid() {
			t.Fatalf("parsed key of type %q", k.Type())
		}
		if id := k.ID(); !isLowerHex(id) || (len(id) != sigstoreIDLen && len(id) != openpgpV4IDLen) {
			t.Fatalf("parsed key with id %q", id)
		}
		again, err := ParsePublicKey(data)
		if err != nil || again.ID() != k.ID() {
			t.Fatalf("second parse differs: %v", err)
		}
		// A parsed key must survive verifying junk.
		_ = k.Verify([]byte("m"), Signature{KeyID: k.ID(), Type: k.Type(), Data: data})
	})
}

func FuzzParseSignatureName(f *testing.F) {
	hex64 := strings.Repeat("0a", 32)
	for _, s := range []string{
		"signatures/" + hex64 + ".sig",
		"signatures/" + hex64[:40] + ".asc",
		"signatures/" + hex64 + ".asc",
		"signatures/../" + hex64 + ".sig",
		"signatures/" + strings.ToUpper(hex64) + ".sig",
		"manifest.json",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, typ, err := ParseSignatureName(name)
		if err != nil {
			return
		}
		if !typ.valid() || !isLowerHex(id) {
			t.Fatalf("%q parsed as %q %q", name, typ, id)
		}
		if back := (Signature{KeyID: id, Type: typ}).FileName(); back != name {
			t.Fatalf("%q parsed as %q %q, which names %q", name, typ, id, back)
		}
	})
}

// FuzzVerify feeds arbitrary signature bytes to every scheme: a hostile
// bundle controls them completely, before anything is trusted.
func FuzzVerify(f *testing.F) {
	message := []byte(`{"name":"fuzz"}`)
	var keys []*PublicKey
	for _, kt := range allKeyTypes {
		s := newSigner(f, kt)
		keys = append(keys, s.Public())
		sig := sign(f, s, message)
		f.Add(sig.Data)
		f.Add(sig.Data[:len(sig.Data)/2])
		if kt.isSigstore() {
			raw, err := base64.StdEncoding.DecodeString(string(sig.Data))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("-----BEGIN PGP SIGNATURE-----\n\nwsA=\n-----END PGP SIGNATURE-----\n"))
	trust := TrustSet{Keys: keys, Threshold: 1}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sigs []Signature
		for _, k := range keys {
			sig := Signature{KeyID: k.ID(), Type: k.Type(), Data: data}
			_ = k.Verify(message, sig)
			sigs = append(sigs, sig)
		}
		_, _ = trust.Verify(message, sigs)
	})
}
