package bundle_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"ferry/bundle"
)

// FuzzReadPayload feeds mutated installers to the trailer and keys
// parsers: they must never panic, and whatever they accept must be the
// trailer that was read, byte for byte, with keys that hash to it.
func FuzzReadPayload(f *testing.F) {
	key := newReleaseKey(f)
	path, _ := writeInstaller(f, []byte{0x7f, 'E', 'L', 'F', 1, 2, 3}, [][]byte{key.pub}, signedBundle(f, key))
	inst, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(inst, 0, byte(0))
	f.Add(inst, len(inst)-bundle.TrailerSize+20, byte(1))
	f.Add(inst, 10, byte(0x80))
	f.Add(inst[len(inst)-bundle.TrailerSize:], 0, byte(0))
	f.Add([]byte{}, 0, byte(0))
	f.Fuzz(func(t *testing.T, data []byte, pos int, flip byte) {
		if len(data) > 0 && pos >= 0 {
			data = bytes.Clone(data)
			data[pos%len(data)] ^= flip
		}
		size := int64(len(data))
		p, err := bundle.ReadPayload(bytes.NewReader(data), size)
		if err != nil {
			return
		}
		again, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted trailer does not marshal: %v", err)
		}
		if !bytes.Equal(again, data[size-bundle.TrailerSize:]) {
			t.Fatal("accepted a trailer that does not encode back to its bytes")
		}
		if p.BundleOffset+p.BundleLength+bundle.TrailerSize != size || p.KeysOffset+p.KeysLength != p.BundleOffset || len(p.Keys) == 0 {
			t.Fatalf("accepted an inconsistent layout %+v in %d bytes", p.Trailer, size)
		}
	})
}

// FuzzParsePartList: any accepted checksum list is exactly the canonical
// sha256sum lines for parts 000, 001, … in order.
func FuzzParsePartList(f *testing.F) {
	line := func(i int) string {
		return fmt.Sprintf("%s  app.ferry.part%03d\n", strings.Repeat("ab", 32), i)
	}
	f.Add([]byte(line(0) + line(1) + line(2)))
	f.Add([]byte(strings.Replace(line(0), "  ", " *", 1)))
	f.Add([]byte(line(1)))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := bundle.ParsePartList(bytes.NewReader(data), "app.ferry")
		if err != nil {
			return
		}
		if len(sums) == 0 || len(sums) > bundle.MaxParts {
			t.Fatalf("accepted %d parts", len(sums))
		}
		for i, s := range sums {
			if s.Name != bundle.PartName("app.ferry", i) {
				t.Fatalf("part %d is named %q", i, s.Name)
			}
		}
	})
}
