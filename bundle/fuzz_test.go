package bundle_test

import (
	"bytes"
	"context"
	"testing"

	"ferry/bundle"
)

// FuzzParseManifest: any bytes either fail to parse or parse into a
// manifest whose canonical encoding is exactly those bytes.
func FuzzParseManifest(f *testing.F) {
	fx := fixture(f)
	raw := readEntries(f, fx.data)[0].data
	f.Add(raw)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"mediaType":"application/vnd.ferry.manifest.v1+json","schemaVersion":1}`))
	f.Add(bytes.Replace(raw, []byte(`"encoding":"raw"`), []byte(`"encoding":"gzip"`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := bundle.ParseManifest(data)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed manifest does not marshal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted a non-canonical manifest")
		}
		if _, err := m.Order(); err != nil {
			t.Fatalf("accepted a manifest whose components cannot be ordered: %v", err)
		}
	})
}

// FuzzVerify feeds mutated bundles to the streaming reader: it must never
// panic or hang, and must accept only the original bytes (a mutation that
// verifies must leave every signed byte unchanged).
func FuzzVerify(f *testing.F) {
	fx := fixture(f)
	ts := trust(f, 2, 1)
	f.Add(fx.data[:4096], 0, byte(0))
	f.Add(fx.data, len(fx.data)/2, byte(1))
	f.Add(fx.data, 600, byte(0x80))
	f.Add([]byte{}, 0, byte(0))
	f.Fuzz(func(t *testing.T, data []byte, pos int, flip byte) {
		if len(data) > 0 && pos >= 0 {
			data = bytes.Clone(data)
			data[pos%len(data)] ^= flip
		}
		_, _ = bundle.Inspect(bytes.NewReader(data))
		v, err := bundle.Verify(context.Background(), bytes.NewReader(data), bundle.VerifyOptions{Trust: ts, Deep: true})
		if err != nil {
			return
		}
		if v.Digest != fx.res.Digest {
			t.Fatalf("accepted a bundle with another manifest (%s)", v.Digest)
		}
	})
}
