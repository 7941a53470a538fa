package updates

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestDecoderChecks: a patch that applies, but not to the content the
// Decoder was told of, fails at its end with the error that says how: a
// digest that differs, fewer bytes, or more; and a base too large for a
// whole-file patch is refused before anything is decoded.
func TestDecoderChecks(t *testing.T) {
	base, content := goldenInputs()
	var enc WholeEncoder
	defer enc.Close()
	whole, err := enc.Encode(base, content)
	if err != nil {
		t.Fatal(err)
	}
	seg := encodeTest(t, base, content, testSegSize, testSegMargin)
	size, sum := int64(len(content)), digest(content)
	for _, tc := range []struct {
		name  string
		d     Decoder
		patch []byte
		want  error
	}{
		{"whole, other digest", Decoder{Size: size, Digest: digest(base)}, whole, ErrDigest},
		{"whole, longer", Decoder{Size: size + 1, Digest: sum}, whole, ErrSize},
		{"whole, shorter", Decoder{Size: size - 1, Digest: sum}, whole, ErrInflation},
		{"segmented, other digest", Decoder{Segmented: true, StoredSize: int64(len(seg)), Size: size, Digest: digest(base)}, seg, ErrDigest},
	} {
		rc, err := tc.d.Open(bytes.NewReader(tc.patch), bytes.NewReader(base))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, err = io.ReadAll(rc)
		rc.Close()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	large := bytes.NewReader(make([]byte, MaxPatchBase+1))
	if _, err := (&Decoder{Size: size, Digest: sum}).Open(bytes.NewReader(whole), large); !errors.Is(err, ErrBase) {
		t.Errorf("a base of %d bytes: got %v, want %v", large.Size(), err, ErrBase)
	}
}
