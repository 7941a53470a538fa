package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"ferry/internal/strictjson"
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
			if _, err := bin.ReadFrom(b.Body); err != nil {
				f.Fatal(err)
			}
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
		accepted := map[string]bool{}
		for _, k := range keys {
			sig := Signature{KeyID: k.ID(), Type: k.Type(), Data: data}
			if k.Verify(message, sig) == nil {
				accepted[k.ID()] = true
				// What verifies once verifies again, and verifies
				// that message only: any byte of it flipped fails.
				if err := k.Verify(message, sig); err != nil {
					t.Fatalf("key %s: verified, then not: %v", k.ID(), err)
				}
				for i := range message {
					flipped := bytes.Clone(message)
					flipped[i] ^= 1 << (len(data) % 8)
					if k.Verify(flipped, sig) == nil {
						t.Fatalf("key %s: the signature also verifies %q", k.ID(), flipped)
					}
				}
			}
			sigs = append(sigs, sig)
		}
		// The trust set agrees: a signature of a trusted key that does not
		// verify is an error, and the ones that do are counted.
		_, err := trust.Verify(message, sigs)
		if (err == nil) != (len(accepted) == len(keys)) {
			t.Fatalf("trust set: %v, with %d of %d keys accepting the signature", err, len(accepted), len(keys))
		}
		var good []Signature
		for _, sig := range sigs {
			if accepted[sig.KeyID] {
				good = append(good, sig)
			}
		}
		if len(good) == 0 {
			return
		}
		ids, err := trust.Verify(message, good)
		if err != nil || len(ids) != len(good) {
			t.Fatalf("trust set: %v %v, for %d accepted signatures", ids, err, len(good))
		}
		flipped := bytes.Clone(message)
		flipped[len(data)%len(flipped)] ^= 0x80
		if _, err := trust.Verify(flipped, good); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("trust set, a flipped byte in the message: %v", err)
		}
	})
}

// FuzzParseRotation feeds arbitrary statement files to ParseRotation: a
// bundle carries them, and they are parsed before anything about them is
// trusted. Whatever parses must be exactly what SignRotation would write.
func FuzzParseRotation(f *testing.F) {
	old := newSigner(f, KeyEd25519)
	next := []Signer{newSigner(f, KeyECDSAP256), newSigner(f, KeyEd25519), newSigner(f, KeyOpenPGP)}
	texts := keyTexts(f, next...)
	issued := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []struct {
		seq, threshold int
		keys           [][]byte
		signers        []Signer
	}{
		{1, 1, texts[:1], []Signer{old}},
		{2, 2, texts, []Signer{old, next[0]}},
		{64, 1, texts[2:], next},
	} {
		data, err := SignRotation(seed.seq, seed.threshold, seed.keys, issued, seed.signers...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	for _, payload := range []string{
		`{"issued":"2026-03-01T12:00:00Z","keys":[],"sequence":1,"threshold":1}`,
		`{"issued":"2026-03-01T12:00:00Z","keys":["x"],"sequence":0,"threshold":0}`,
		`{"issued":"2026-03-01T12:00:00+01:00","keys":null,"sequence":1.5,"threshold":1,"x":1}`,
		`{"issued":"2026-03-01T12:00:00Z","keys":["` + strings.ReplaceAll(string(texts[0]), "\n", `\n`) + `"],"sequence":1,"threshold":2}`,
	} {
		data, err := SignEnvelope(RotationPayloadType, []byte(payload), old)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"payload":"e30=","payloadType":"` + RotationPayloadType + `","signatures":[]}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRotation(data)
		if err != nil {
			if !errors.Is(err, ErrRotation) {
				t.Fatalf("ParseRotation failed without ErrRotation: %v", err)
			}
			return
		}
		switch {
		case !bytes.Equal(r.File, data):
			t.Fatal("File is not the file parsed")
		case r.Sequence < 1 || len(r.Keys) < 1 || len(r.Keys) > MaxRotationKeys || len(r.KeyData) != len(r.Keys):
			t.Fatalf("accepted sequence %d with %d keys and %d key texts", r.Sequence, len(r.Keys), len(r.KeyData))
		case r.Threshold < 1 || r.Threshold > len(r.Keys):
			t.Fatalf("accepted threshold %d of %d keys", r.Threshold, len(r.Keys))
		case r.Issued.Location() != time.UTC || r.Issued.Nanosecond() != 0 || r.Issued.IsZero():
			t.Fatalf("accepted issued %v", r.Issued)
		}
		for i := 1; i < len(r.Keys); i++ {
			if r.Keys[i-1].ID() >= r.Keys[i].ID() {
				t.Fatalf("accepted keys not sorted by id, one each: %s, %s", r.Keys[i-1].ID(), r.Keys[i].ID())
			}
		}
		// What parses re-marshals to the same bytes: the envelope and the
		// payload inside it.
		env, err := ParseEnvelope(data, RotationPayloadType, MaxRotationSize)
		if err != nil {
			t.Fatalf("ParseRotation accepted what ParseEnvelope refuses: %v", err)
		}
		if again, err := env.Marshal(); err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted file does not re-encode to itself (%v)", err)
		}
		raw := rotationJSON{Issued: r.Issued.Format(time.RFC3339), Sequence: r.Sequence, Threshold: r.Threshold}
		for _, k := range r.KeyData {
			raw.Keys = append(raw.Keys, string(k))
		}
		if payload, err := strictjson.MarshalCanonical(raw); err != nil || !bytes.Equal(payload, env.Payload) {
			t.Fatalf("accepted payload does not re-encode to itself (%v)", err)
		}
	})
}
