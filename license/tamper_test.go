package license

import (
	"errors"
	"strconv"
	"testing"

	"ferry/verify"
)

// TestTamper changes every byte of an issued licence, signed by one key of
// each type and verified 3 of 3, in several ways, and cuts it at every
// length: each result must be refused as malformed, badly signed or
// untrusted, never accepted.
func TestTamper(t *testing.T) {
	signers := []verify.Signer{testSigner(t, verify.KeyECDSAP256), testSigner(t, verify.KeyEd25519), testSigner(t, verify.KeyOpenPGP)}
	trust := trustOf(3, signers...)
	orig := issue(t, fullLicense(), signers...)
	if _, _, err := Verify(orig, trust); err != nil {
		t.Fatalf("the untouched licence: %v", err)
	}
	check := func(what string, data []byte) {
		t.Helper()
		_, _, err := Verify(data, trust)
		switch {
		case err == nil:
			t.Fatalf("%s: accepted", what)
		case !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUntrusted):
			t.Fatalf("%s: %v, want ErrMalformed, ErrBadSignature or ErrUntrusted", what, err)
		}
	}
	data := make([]byte, len(orig))
	for i := range orig {
		for _, mask := range []byte{0x01, 0x02, 0x20, 0x80, 0xff} {
			copy(data, orig)
			data[i] ^= mask
			check(describeTamper(orig, i, "xor", mask), data)
		}
		for _, b := range []byte{' ', '\\', '"', '='} {
			if orig[i] == b {
				continue
			}
			copy(data, orig)
			data[i] = b
			check(describeTamper(orig, i, "set", b), data)
		}
		check("cut at "+strconv.Itoa(i), orig[:i])
		// Removing a byte and inserting one shift everything after them.
		check("byte "+strconv.Itoa(i)+" removed", append(append([]byte(nil), orig[:i]...), orig[i+1:]...))
		check("byte inserted at "+strconv.Itoa(i), append(append(append([]byte(nil), orig[:i]...), ' '), orig[i:]...))
	}
	check("a byte appended", append(append([]byte(nil), orig...), ' '))
}

func describeTamper(orig []byte, i int, op string, b byte) string {
	lo, hi := max(0, i-12), min(len(orig), i+12)
	return "byte " + strconv.Itoa(i) + " " + op + " " + strconv.Itoa(int(b)) + " near " + string(orig[lo:hi])
}
