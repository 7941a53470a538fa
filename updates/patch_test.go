package updates

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// TestPatchEncoderReuse: a patch made by an encoder kept from earlier
// patches, with the same window or another, is byte for byte the patch a
// new encoder makes, and decodes against its base.
func TestPatchEncoderReuse(t *testing.T) {
	pair := func(size, seed int) (base, content []byte) {
		base = make([]byte, size)
		for i := range base {
			base[i] = byte((i*seed)>>5) ^ byte(i%251)
		}
		content = bytes.Clone(base)
		copy(content[size/3:], fmt.Sprintf("changed by pair %d", seed))
		return base, append(content, "grown"...)
	}
	sizes := []int{30 << 10, 40 << 10, 300 << 10, 35 << 10, 35 << 10}
	var kept WholeEncoder
	defer kept.Close()
	for i, size := range sizes {
		base, content := pair(size, i+3)
		got, err := kept.Encode(base, content)
		if err != nil {
			t.Fatal(err)
		}
		var fresh WholeEncoder
		want, err := fresh.Encode(base, content)
		fresh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("patch %d (%d bytes): the kept encoder made %d bytes that differ from a new one's %d", i, size, len(got), len(want))
		}
		dec, err := newWholeReader(bytes.NewReader(got), base)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(dec)
		dec.Close()
		if err != nil || !bytes.Equal(out, content) {
			t.Fatalf("patch %d does not decode to its content: %v", i, err)
		}
	}
}
