package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

var testMessage = []byte(`{"mediaType":"application/vnd.ferry.manifest.v1+json","name":"demo","version":"1.0.0"}`)

func TestRoundTrip(t *testing.T) {
	for _, kt := range allKeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			g := testKey(t, kt)
			if g.key.Type() != kt || g.signer.Public().Type() != kt {
				t.Fatalf("types: parsed %s, signer %s, want %s", g.key.Type(), g.signer.Public().Type(), kt)
			}
			if g.key.ID() != g.signer.Public().ID() {
				t.Fatalf("parsed public key id %s, signer's %s", g.key.ID(), g.signer.Public().ID())
			}
			wantLen := map[KeyType]int{KeyECDSAP256: 64, KeyEd25519: 64, KeyOpenPGP: 40}[kt]
			if id := g.key.ID(); len(id) != wantLen || !isLowerHex(id) {
				t.Fatalf("id %q: want %d lowercase hex digits", id, wantLen)
			}
			sig := sign(t, g.signer, testMessage)
			if sig.KeyID != g.key.ID() || sig.Type != kt {
				t.Fatalf("signature names %s %s, want %s %s", sig.Type, sig.KeyID, kt, g.key.ID())
			}
			if err := g.key.Verify(testMessage, sig); err != nil {
				t.Fatalf("verify: %v", err)
			}
			ids, err := TrustSet{Keys: []*PublicKey{g.key}}.Verify(testMessage, []Signature{sig})
			if err != nil || len(ids) != 1 || ids[0] != g.key.ID() {
				t.Fatalf("trust set verify: %v, %v", ids, err)
			}
			// The same key read again has the same id.
			again, err := ParsePublicKey(g.pub)
			if err != nil || again.ID() != g.key.ID() {
				t.Fatalf("reparse: %v, id %s want %s", err, again.ID(), g.key.ID())
			}
		})
	}
}

func TestGeneratedFormats(t *testing.T) {
	want := map[KeyType][2]string{
		KeyECDSAP256: {"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----", "-----BEGIN PUBLIC KEY-----"},
		KeyEd25519:   {"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----", "-----BEGIN PUBLIC KEY-----"},
		KeyOpenPGP:   {"-----BEGIN PGP PRIVATE KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"},
	}
	for _, kt := range allKeyTypes {
		g := testKey(t, kt)
		if !bytes.HasPrefix(g.priv, []byte(want[kt][0])) {
			t.Errorf("%s private key starts %q", kt, firstLine(g.priv))
		}
		if !bytes.HasPrefix(g.pub, []byte(want[kt][1])) {
			t.Errorf("%s public key starts %q", kt, firstLine(g.pub))
		}
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}

func TestWrongPassphrase(t *testing.T) {
	t.Parallel()
	for _, kt := range allKeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			g := testKey(t, kt)
			for _, pass := range []string{"wrong horse battery staple", ""} {
				_, err := LoadSigner(g.priv, []byte(pass))
				if !errors.Is(err, ErrBadPassphrase) {
					t.Errorf("passphrase %q: got %v, want ErrBadPassphrase", pass, err)
				}
			}
		})
	}
}

func TestTamperedMessage(t *testing.T) {
	for _, kt := range allKeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			g := testKey(t, kt)
			sig := sign(t, g.signer, testMessage)
			tampered := bytes.Replace(testMessage, []byte("1.0.0"), []byte("1.0.1"), 1)
			for name, msg := range map[string][]byte{
				"changed":   tampered,
				"truncated": testMessage[:len(testMessage)-1],
				"extended":  append(bytes.Clone(testMessage), '\n'),
				"empty":     nil,
			} {
				if err := g.key.Verify(msg, sig); !errors.Is(err, ErrBadSignature) {
					t.Errorf("%s message: got %v, want ErrBadSignature", name, err)
				}
			}
		})
	}
}

func TestTamperedSignature(t *testing.T) {
	for _, kt := range allKeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			g := testKey(t, kt)
			sig := sign(t, g.signer, testMessage)
			for i := range sig.Data {
				bad := sig
				bad.Data = bytes.Clone(sig.Data)
				bad.Data[i] ^= 0x01
				if err := g.key.Verify(testMessage, bad); err == nil {
					// OpenPGP leaves some bytes outside the signature:
					// armor framing and checksum, the 16-bit hash tag,
					// the bit counts of the EdDSA values. Changing them
					// is harmless; changing anything signed is not.
					if !sameSignedContent(t, kt, sig.Data, bad.Data) {
						t.Fatalf("byte %d flipped: signature still verifies", i)
					}
				} else if !errors.Is(err, ErrBadSignature) {
					t.Fatalf("byte %d flipped: got %v, want ErrBadSignature", i, err)
				}
			}
		})
	}
}

// sameSignedContent reports whether two OpenPGP signatures agree on what
// was signed (the hashed subpackets) and on the signature value.
func sameSignedContent(t *testing.T, kt KeyType, a, b []byte) bool {
	t.Helper()
	if kt.isSigstore() {
		return false // strict base64 of the raw signature: every bit counts
	}
	sa, errA := readDetachedSignature(a)
	sb, errB := readDetachedSignature(b)
	if errA != nil || errB != nil {
		return false
	}
	return bytes.Equal(sa.HashSuffix, sb.HashSuffix) &&
		bytes.Equal(sa.EdDSASigR.Bytes(), sb.EdDSASigR.Bytes()) &&
		bytes.Equal(sa.EdDSASigS.Bytes(), sb.EdDSASigS.Bytes())
}

func TestWrongKey(t *testing.T) {
	for _, kt := range allKeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			g := testKey(t, kt)
			other := newSigner(t, kt)
			sig := sign(t, other, testMessage)
			// Named for its own key: refused before any cryptography.
			if err := g.key.Verify(testMessage, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("other key's signature: got %v, want ErrBadSignature", err)
			}
			// Relabelled as ours: the cryptography refuses it.
			sig.KeyID = g.key.ID()
			if err := g.key.Verify(testMessage, sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("relabelled signature: got %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestCrossTypeSignature(t *testing.T) {
	ec := testKey(t, KeyECDSAP256)
	ed := testKey(t, KeyEd25519)
	pgp := testKey(t, KeyOpenPGP)
	ecSig := sign(t, ec.signer, testMessage)
	pgpSig := sign(t, pgp.signer, testMessage)

	// An OpenPGP signature relabelled for a sigstore key, and the reverse.
	relabel := func(s Signature, k *PublicKey) Signature { s.KeyID, s.Type = k.ID(), k.Type(); return s }
	for name, c := range map[string]struct {
		key *PublicKey
		sig Signature
	}{
		"openpgp sig on ecdsa key":  {ec.key, relabel(pgpSig, ec.key)},
		"ecdsa sig on openpgp key":  {pgp.key, relabel(ecSig, pgp.key)},
		"ecdsa sig on ed25519 key":  {ed.key, relabel(ecSig, ed.key)},
		"type says openpgp":         {ec.key, Signature{KeyID: ec.key.ID(), Type: KeyOpenPGP, Data: ecSig.Data}},
		"unknown type":              {pgp.key, Signature{KeyID: pgp.key.ID(), Type: "rsa", Data: pgpSig.Data}},
		"empty data":                {ec.key, Signature{KeyID: ec.key.ID(), Type: KeyECDSAP256}},
		"empty openpgp data":        {pgp.key, Signature{KeyID: pgp.key.ID(), Type: KeyOpenPGP}},
		"base64 of nothing useful":  {ed.key, Signature{KeyID: ed.key.ID(), Type: KeyEd25519, Data: []byte("AAAA")}},
		"openpgp public key as sig": {pgp.key, Signature{KeyID: pgp.key.ID(), Type: KeyOpenPGP, Data: pgp.pub}},
	} {
		if err := c.key.Verify(testMessage, c.sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", name, err)
		}
	}
	// A ".sig" entry name cannot say ECDSA or Ed25519; the key decides.
	edSig := sign(t, ed.signer, testMessage)
	id, typ, err := ParseSignatureName(edSig.FileName())
	if err != nil {
		t.Fatal(err)
	}
	if err := ed.key.Verify(testMessage, Signature{KeyID: id, Type: typ, Data: edSig.Data}); err != nil {
		t.Errorf("Ed25519 signature read back from its entry name: %v", err)
	}
}

func TestSignatureTrailingNewline(t *testing.T) {
	// A signature file saved by hand often gains a newline or CRLF.
	for _, kt := range allKeyTypes {
		g := testKey(t, kt)
		sig := sign(t, g.signer, testMessage)
		sig.Data = append(bytes.TrimSpace(sig.Data), "\r\n"...)
		if err := g.key.Verify(testMessage, sig); err != nil {
			t.Errorf("%s: %v", kt, err)
		}
	}
}

// TestSignatureCanonicalForm: what ferry signs has one byte form, and any
// change to it, even to bytes no signature covers, fails CheckCanonical or
// Verify, as a bundle must refuse any changed byte.
func TestSignatureCanonicalForm(t *testing.T) {
	for _, kt := range allKeyTypes {
		g := testKey(t, kt)
		sig := sign(t, g.signer, testMessage)
		if err := sig.CheckCanonical(testMessage); err != nil {
			t.Fatalf("%s: ferry's own signature: %v", kt, err)
		}
		for name, data := range map[string][]byte{
			"CRLF":          append(bytes.TrimSpace(sig.Data), "\r\n"...),
			"extra newline": append(bytes.Clone(sig.Data), '\n'),
		} {
			bad := sig
			bad.Data = data
			if err := bad.CheckCanonical(testMessage); err == nil {
				t.Errorf("%s, %s: accepted as canonical", kt, name)
			}
		}
		for i := range sig.Data {
			bad := sig
			bad.Data = bytes.Clone(sig.Data)
			bad.Data[i] ^= 0x01
			if bad.CheckCanonical(testMessage) == nil && g.key.Verify(testMessage, bad) == nil {
				t.Errorf("%s: flipping byte %d of %d (%q) is not detected", kt, i, len(sig.Data), sig.Data[i])
			}
		}
	}
}

func TestSizeCaps(t *testing.T) {
	g := testKey(t, KeyECDSAP256)
	big := Signature{KeyID: g.key.ID(), Type: KeyECDSAP256, Data: bytes.Repeat([]byte("A"), MaxSignatureSize+1)}
	if err := g.key.Verify(testMessage, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized signature: got %v, want ErrTooLarge", err)
	}
	if _, err := (TrustSet{Keys: []*PublicKey{g.key}}).Verify(testMessage, []Signature{big}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized signature in trust set: got %v, want ErrTooLarge", err)
	}
	huge := append(bytes.Clone(g.pub), bytes.Repeat([]byte("\n"), MaxKeySize)...)
	if _, err := ParsePublicKey(huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized public key: got %v, want ErrTooLarge", err)
	}
	if _, err := LoadSigner(append(bytes.Clone(g.priv), huge...), []byte(testPassphrase)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized private key: got %v, want ErrTooLarge", err)
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, _ := x509.MarshalPKIXPublicKey(p384.Public())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())
	ec := testKey(t, KeyECDSAP256)
	pgp := testKey(t, KeyOpenPGP)

	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"empty":              {nil, "unrecognised format"},
		"text":               {[]byte("hello"), "unrecognised format"},
		"P-384":              {pemOf("PUBLIC KEY", p384DER), "P-384"},
		"RSA":                {pemOf("PUBLIC KEY", rsaDER), "not supported"},
		"certificate":        {pemOf("CERTIFICATE", p384DER), "not a PKIX public key"},
		"sigstore private":   {ec.priv, "private key"},
		"openpgp private":    {pgp.priv, "secret key"},
		"two PEM keys":       {append(bytes.Clone(ec.pub), ec.pub...), "exactly one key"},
		"two armored keys":   {append(bytes.Clone(pgp.pub), pgp.pub...), "exactly one key"},
		"garbage DER":        {pemOf("PUBLIC KEY", []byte{0x30, 0x03, 1, 2, 3}), "parse PKIX"},
		"broken armor":       {[]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"), "OpenPGP"},
		"armored signature":  {sign(t, pgp.signer, testMessage).Data, "not an OpenPGP key"},
		"binary not openpgp": {[]byte{0xff, 0x00, 0x01}, "OpenPGP"},
	} {
		_, err := ParsePublicKey(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}

func TestLoadSignerRejects(t *testing.T) {
	ec := testKey(t, KeyECDSAP256)
	pgp := testKey(t, KeyOpenPGP)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	plainPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"sigstore public key": {ec.pub, "public key"},
		"openpgp public key":  {pgp.pub, "public key"},
		"unencrypted PEM":     {plainPEM, "unencrypted"},
		"unknown PEM":         {pem.EncodeToMemory(&pem.Block{Type: "SOMETHING", Bytes: []byte{1}}), "not a supported private key"},
		"garbage":             {[]byte("garbage"), "unrecognised format"},
	} {
		_, err := LoadSigner(c.data, []byte(testPassphrase))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}

func TestGenerateKeyRejects(t *testing.T) {
	if _, _, err := GenerateKey(KeyEd25519, "x", nil); err == nil {
		t.Error("empty passphrase accepted")
	}
	if _, _, err := GenerateKey("rsa", "x", []byte(testPassphrase)); err == nil {
		t.Error("unknown key type accepted")
	}
	if _, _, err := GenerateKey(KeyOpenPGP, "  ", []byte(testPassphrase)); err == nil {
		t.Error("empty OpenPGP user id accepted")
	}
	if _, _, err := GenerateKey(KeyOpenPGP, "bad (name", []byte(testPassphrase)); err == nil {
		t.Error("OpenPGP user id with '(' accepted")
	}
}

func TestSplitUserID(t *testing.T) {
	for in, want := range map[string][2]string{
		"ferry release key <release@ferry.invalid>": {"ferry release key", "release@ferry.invalid"},
		"plain name":          {"plain name", ""},
		"<only@mail.invalid>": {"", "only@mail.invalid"},
		"  spaced  ":          {"spaced", ""},
	} {
		name, email := splitUserID(in)
		if name != want[0] || email != want[1] {
			t.Errorf("splitUserID(%q) = %q, %q; want %q, %q", in, name, email, want[0], want[1])
		}
	}
}

func TestZeroPublicKey(t *testing.T) {
	var k *PublicKey
	if k.ID() != "" || k.Type() != "" {
		t.Error("nil key has an id or type")
	}
	if err := k.Verify(testMessage, Signature{}); err == nil {
		t.Error("nil key verified a signature")
	}
	if err := (&PublicKey{}).Verify(testMessage, Signature{}); err == nil {
		t.Error("zero key verified a signature")
	}
}
