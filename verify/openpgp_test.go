package verify

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func configAt(at time.Time) *packet.Config {
	cfg := newOpenPGPConfig()
	cfg.Time = func() time.Time { return at }
	return cfg
}

// pgpEntityAt makes an OpenPGP key as if the clock read created.
func pgpEntityAt(t *testing.T, created time.Time, lifetime time.Duration) *openpgp.Entity {
	t.Helper()
	cfg := configAt(created)
	cfg.KeyLifetimeSecs = uint32(lifetime / time.Second)
	e, err := openpgp.NewEntity("clock test", "", "clock@ferry.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func pgpPublicKey(t *testing.T, e *openpgp.Entity) *PublicKey {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	k, err := ParsePublicKey(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pgpSignAt makes a detached signature dated at, below the level where
// go-crypto would refuse to sign with a key that is expired or revoked at
// that time: an attacker holding an old key is not so polite.
func pgpSignAt(t *testing.T, e *openpgp.Entity, message []byte, at time.Time, sigType packet.SignatureType) Signature {
	t.Helper()
	cfg := configAt(at)
	sig := &packet.Signature{
		Version:           e.PrimaryKey.Version,
		SigType:           sigType,
		PubKeyAlgo:        e.PrimaryKey.PubKeyAlgo,
		Hash:              crypto.SHA256,
		CreationTime:      at,
		IssuerKeyId:       &e.PrimaryKey.KeyId,
		IssuerFingerprint: e.PrimaryKey.Fingerprint,
	}
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(message)
	if err := sig.Sign(h, e.PrivateKey, cfg); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, armorSignature, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return Signature{KeyID: hexID(e), Type: KeyOpenPGP, Data: buf.Bytes()}
}

func hexID(e *openpgp.Entity) string { return hex.EncodeToString(e.PrimaryKey.Fingerprint) }

// TestOpenPGPClockIndependence: validity is judged at the signature's
// creation time, so neither a signer whose clock runs ahead nor a verifier
// offline for years sees a valid signature refused.
func TestOpenPGPClockIndependence(t *testing.T) {
	now := time.Now()
	t.Run("signer clock ahead", func(t *testing.T) {
		ahead := now.Add(72 * time.Hour)
		e := pgpEntityAt(t, ahead, 0)
		var buf bytes.Buffer
		if err := openpgp.ArmoredDetachSign(&buf, e, bytes.NewReader(testMessage), configAt(ahead)); err != nil {
			t.Fatal(err)
		}
		k := pgpPublicKey(t, e)
		if err := k.Verify(testMessage, Signature{KeyID: k.ID(), Type: KeyOpenPGP, Data: buf.Bytes()}); err != nil {
			t.Fatalf("signature from a clock 72h ahead: %v", err)
		}
	})

	// A key that expired years ago, as a gpg default key on a host that
	// has been offline since.
	created := now.AddDate(-5, 0, 0)
	e := pgpEntityAt(t, created, 2*365*24*time.Hour)
	k := pgpPublicKey(t, e)
	t.Run("expired key, signed while valid", func(t *testing.T) {
		sig := pgpSignAt(t, e, testMessage, created.AddDate(1, 0, 0), packet.SigTypeBinary)
		if err := k.Verify(testMessage, sig); err != nil {
			t.Fatalf("signature made while the key was valid: %v", err)
		}
	})
	t.Run("expired key, signed after expiry", func(t *testing.T) {
		sig := pgpSignAt(t, e, testMessage, created.AddDate(3, 0, 0), packet.SigTypeBinary)
		if err := k.Verify(testMessage, sig); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("signature made after expiry: got %v, want ErrBadSignature", err)
		}
	})
}

func TestOpenPGPRevocation(t *testing.T) {
	created := time.Now().AddDate(-1, 0, 0)
	signed := created.Add(time.Hour)
	revoked := created.Add(30 * 24 * time.Hour)
	for _, tc := range []struct {
		name   string
		reason packet.ReasonForRevocation
		sigAt  time.Time
		valid  bool
	}{
		{"superseded, signed before", packet.KeySuperseded, signed, true},
		{"superseded, signed after", packet.KeySuperseded, revoked.Add(time.Hour), false},
		{"compromised, signed before", packet.KeyCompromised, signed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := pgpEntityAt(t, created, 0)
			if err := e.RevokeKey(tc.reason, "test", configAt(revoked)); err != nil {
				t.Fatal(err)
			}
			k := pgpPublicKey(t, e)
			err := k.Verify(testMessage, pgpSignAt(t, e, testMessage, tc.sigAt, packet.SigTypeBinary))
			if tc.valid && err != nil {
				t.Fatalf("got %v, want valid", err)
			}
			if !tc.valid && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("got %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestOpenPGPSignatureForms(t *testing.T) {
	e := pgpEntityAt(t, time.Now().Add(-time.Hour), 0)
	k := pgpPublicKey(t, e)
	good := pgpSignAt(t, e, testMessage, time.Now(), packet.SigTypeBinary)
	if err := k.Verify(testMessage, good); err != nil {
		t.Fatalf("binary signature: %v", err)
	}

	text := pgpSignAt(t, e, testMessage, time.Now(), packet.SigTypeText)
	if err := k.Verify(testMessage, text); !errors.Is(err, ErrBadSignature) {
		t.Errorf("text signature: got %v, want ErrBadSignature", err)
	}

	// Two signature packets in one armored block.
	body := func(s Signature) []byte {
		b, err := armor.Decode(bytes.NewReader(s.Data))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(b.Body); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var two bytes.Buffer
	w, err := armor.Encode(&two, armorSignature, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := w.Write(body(good)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Verify(testMessage, Signature{Data: two.Bytes()}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("two packets: got %v, want ErrBadSignature", err)
	}

	// Two armored blocks.
	if err := k.Verify(testMessage, Signature{Data: append(bytes.Clone(good.Data), good.Data...)}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("two armored blocks: got %v, want ErrBadSignature", err)
	}

	// Binary (unarmored) signature: the bundle stores armor only.
	if err := k.Verify(testMessage, Signature{Data: body(good)}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("binary signature: got %v, want ErrBadSignature", err)
	}
}

func TestOpenPGPWeakKeys(t *testing.T) {
	cfg := newOpenPGPConfig()
	cfg.Algorithm = packet.PubKeyAlgoRSA
	cfg.RSABits = 1024
	e, err := openpgp.NewEntity("weak", "", "weak@ferry.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePublicKey(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("RSA-1024 key: got %v, want a too-short error", err)
	}
}

// TestOpenPGPUnencryptedSecretKey: ferry keeps private keys encrypted at
// rest, and says so rather than using a bare key.
func TestOpenPGPUnencryptedSecretKey(t *testing.T) {
	e := pgpEntityAt(t, time.Now(), 0)
	priv, err := armorEncode(armorPrivateKey, func(w io.Writer) error { return e.SerializePrivate(w, nil) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(priv, []byte(testPassphrase)); err == nil || !strings.Contains(err.Error(), "not protected") {
		t.Fatalf("got %v, want a not-protected error", err)
	}
}
