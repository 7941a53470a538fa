package verify

import (
	"strings"
	"testing"
)

func TestSignatureFileName(t *testing.T) {
	for _, kt := range allKeyTypes {
		g := testKey(t, kt)
		sig := sign(t, g.signer, testMessage)
		name := sig.FileName()
		ext := ".sig"
		if kt == KeyOpenPGP {
			ext = ".asc"
		}
		if want := "signatures/" + g.key.ID() + ext; name != want {
			t.Errorf("%s: FileName() = %q, want %q", kt, name, want)
		}
		id, typ, err := ParseSignatureName(name)
		if err != nil {
			t.Fatalf("%s: ParseSignatureName(%q): %v", kt, name, err)
		}
		if id != g.key.ID() || typ.isSigstore() != kt.isSigstore() {
			t.Errorf("%s: ParseSignatureName(%q) = %s, %s", kt, name, id, typ)
		}
		if back := (Signature{KeyID: id, Type: typ}).FileName(); back != name {
			t.Errorf("%s: round trip gives %q, want %q", kt, back, name)
		}
	}
}

func TestParseSignatureNameRejects(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	hex40 := strings.Repeat("cd", 20)
	for _, ok := range []string{
		"signatures/" + hex64 + ".sig",
		"signatures/" + hex40 + ".asc",
		"signatures/" + hex64 + ".asc", // v6 OpenPGP fingerprint
	} {
		if _, _, err := ParseSignatureName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"signatures/",
		"signatures/.sig",
		"signatures/" + hex40 + ".sig", // OpenPGP length with sigstore extension
		"signatures/" + strings.ToUpper(hex64) + ".sig",             // upper case
		"signatures/" + hex64[:63] + ".sig",                         // short
		"signatures/" + hex64 + "0.sig",                             // long
		"signatures/" + hex64[:62] + "zz.sig",                       // not hex
		"signatures/" + hex64 + ".pem",                              // unknown extension
		"signatures/" + hex64,                                       // no extension
		"signatures/" + hex64 + ".sig.sig",                          // double extension
		"signatures/" + hex64 + ".sig/",                             // directory
		"signatures/../" + hex64 + ".sig",                           // escape
		"/signatures/" + hex64 + ".sig",                             // absolute
		"./signatures/" + hex64 + ".sig",                            // not clean
		"signatures//" + hex64 + ".sig",                             // empty element
		"sig/" + hex64 + ".sig",                                     // other directory
		"signatures/sub/" + hex64 + ".sig",                          // nested
		"signatures/" + hex40[:39] + ".asc",                         // short OpenPGP
		"signatures/" + hex40 + "a.asc",                             // 41 digits
		"signatures/" + hex40 + ".ASC",                              // extension case
		"signatures/" + hex64 + ".sig\x00",                          // NUL
		"signatures/" + hex64 + " .sig",                             // space
		"signatures/" + strings.Repeat("a", 1<<16) + ".sig",         // huge
		"signatures/" + hex64[:10] + "\u00e9" + hex64[12:] + ".sig", // non-ASCII
	} {
		if id, typ, err := ParseSignatureName(bad); err == nil {
			t.Errorf("%.80q accepted as %s %s", bad, typ, id)
		}
	}
}
