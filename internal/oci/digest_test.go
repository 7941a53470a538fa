package oci

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	for _, tt := range []struct {
		s               string
		valid, wellForm bool
	}{
		{"sha256:" + hex64, true, true},
		{"sha512:" + hex64 + hex64, false, true},
		{"sha256:" + strings.ToUpper(hex64), false, false},
		{"sha256:" + hex64[:63], false, false},
		{"sha256:" + hex64 + "0", false, false},
		{"sha256:../../" + hex64[:58], false, false},
		{"sha512:" + hex64, false, false},
		{"md5:" + hex64[:32], false, false},
		{hex64, false, false},
		{"sha256:", false, false},
		{"", false, false},
	} {
		if got := ValidDigest(tt.s); got != tt.valid {
			t.Errorf("ValidDigest(%q) = %v, want %v", tt.s, got, tt.valid)
		}
		if got := WellFormedDigest(tt.s); got != tt.wellForm {
			t.Errorf("WellFormedDigest(%q) = %v, want %v", tt.s, got, tt.wellForm)
		}
		d, err := ParseDigest(tt.s)
		switch {
		case tt.valid && (err != nil || d.String() != tt.s || d.Hex() != tt.s[len("sha256:"):]):
			t.Errorf("ParseDigest(%q) = %q, %v", tt.s, d, err)
		case !tt.valid && !errors.Is(err, ErrInvalidDigest):
			t.Errorf("ParseDigest(%q) = %q, %v; want ErrInvalidDigest", tt.s, d, err)
		}
	}
}

func TestDigestFrom(t *testing.T) {
	// The digest of the empty string, as every registry knows it.
	const empty = Digest("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	if got := FromBytes(nil); got != empty {
		t.Errorf("FromBytes(nil) = %s, want %s", got, empty)
	}
	h := sha256.New()
	h.Write([]byte("ferry"))
	if got, want := FromHash(h), FromBytes([]byte("ferry")); got != want || !ValidDigest(string(got)) {
		t.Errorf("FromHash = %s, FromBytes = %s", got, want)
	}
	if !ValidHex(empty.Hex()) || ValidHex(string(empty)) {
		t.Errorf("ValidHex: the hex part of %s", empty)
	}
	if got := FromHex(empty.Hex()); got != empty {
		t.Errorf("FromHex(%s) = %s", empty.Hex(), got)
	}
}
