package verify

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestTrustSetThreshold(t *testing.T) {
	// Three trusted keys, one of each type, and one outsider.
	a, b, c := newSigner(t, KeyECDSAP256), newSigner(t, KeyEd25519), newSigner(t, KeyOpenPGP)
	outsider := newSigner(t, KeyECDSAP256)
	keys := []*PublicKey{a.Public(), b.Public(), c.Public()}
	sa, sb, sc := sign(t, a, testMessage), sign(t, b, testMessage), sign(t, c, testMessage)
	so := sign(t, outsider, testMessage)
	badB := sb
	badB.Data = sign(t, b, []byte("another manifest")).Data

	ids := func(ss ...Signer) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Public().ID())
		}
		slices.Sort(out)
		return out
	}

	for _, tc := range []struct {
		name      string
		keys      []*PublicKey
		threshold int
		sigs      []Signature
		want      []string
		wantErr   error
	}{
		{"1 of 3", keys, 1, []Signature{sb}, ids(b), nil},
		{"threshold 0 means 1", keys, 0, []Signature{sc}, ids(c), nil},
		{"2 of 3 met", keys, 2, []Signature{sa, sc}, ids(a, c), nil},
		{"3 of 3 met", keys, 3, []Signature{sc, sb, sa}, ids(a, b, c), nil},
		{"2 of 3 with only one", keys, 2, []Signature{sa}, nil, ErrBelowThreshold},
		{"duplicate signature counts once", keys, 2, []Signature{sa, sa}, nil, ErrBelowThreshold},
		{"same key signing twice counts once", keys, 2, []Signature{sa, sign(t, a, testMessage)}, nil, ErrBelowThreshold},
		{"duplicate keys count once", []*PublicKey{a.Public(), a.Public(), b.Public()}, 2, []Signature{sa, sa}, nil, ErrBelowThreshold},
		{"duplicate keys still allow a met threshold", []*PublicKey{a.Public(), a.Public(), b.Public()}, 2, []Signature{sa, sb}, ids(a, b), nil},
		{"duplicate keys do not raise the ceiling", []*PublicKey{a.Public(), a.Public()}, 2, []Signature{sa}, nil, ErrInvalidTrustSet},
		{"unknown key ignored", keys, 1, []Signature{so, sa}, ids(a), nil},
		{"unknown key does not count", keys, 2, []Signature{so, sa}, nil, ErrBelowThreshold},
		{"only unknown keys", keys, 1, []Signature{so}, nil, ErrUntrustedKey},
		{"no signatures", keys, 1, nil, nil, ErrNoSignature},
		{"bad signature from trusted key", keys, 1, []Signature{sa, badB}, nil, ErrBadSignature},
		{"bad signature even above threshold", keys, 2, []Signature{sa, sc, badB}, nil, ErrBadSignature},
		{"bad and good by the same key", keys, 1, []Signature{sb, badB}, nil, ErrBadSignature},
		{"unknown key with garbage is ignored", keys, 1, []Signature{{KeyID: "00", Type: KeyOpenPGP, Data: []byte("garbage")}, sa}, ids(a), nil},
		{"threshold above keys", keys, 4, []Signature{sa, sb, sc}, nil, ErrInvalidTrustSet},
		{"negative threshold", keys, -1, []Signature{sa}, nil, ErrInvalidTrustSet},
		{"no keys", nil, 0, []Signature{sa}, nil, ErrInvalidTrustSet},
		{"nil key", []*PublicKey{a.Public(), nil}, 1, []Signature{sa}, nil, ErrInvalidTrustSet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TrustSet{Keys: tc.keys, Threshold: tc.threshold}.Verify(testMessage, tc.sigs)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, %v; want %v", got, err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("ids returned with an error: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTrustSetMessages(t *testing.T) {
	a, b := newSigner(t, KeyEd25519), newSigner(t, KeyEd25519)
	sa := sign(t, a, testMessage)
	ts := TrustSet{Keys: []*PublicKey{a.Public(), b.Public()}, Threshold: 2}
	_, err := ts.Verify(testMessage, []Signature{sa})
	if err == nil || !strings.Contains(err.Error(), "1 of 2") || !strings.Contains(err.Error(), a.Public().ID()) {
		t.Errorf("below threshold: %v; want it to say 1 of 2 and name %s", err, a.Public().ID())
	}
	bad := sa
	bad.Data = sign(t, a, []byte("x")).Data
	_, err = ts.Verify(testMessage, []Signature{bad})
	if err == nil || !strings.Contains(err.Error(), a.Public().ID()) {
		t.Errorf("bad signature: %v; want it to name %s", err, a.Public().ID())
	}
}
