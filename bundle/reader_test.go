package bundle_test

import (
	"bytes"
	"errors"
	"testing"

	"ferry/bundle"
	"ferry/verify"
)

// readAll walks a bundle with the sequential reader, reading every entry's
// content, and returns the content by digest.
func readAll(data []byte, ts verify.TrustSet) (map[string][]byte, error) {
	return readPatched(data, ts, nil)
}

func TestReaderYieldsVerifiedContent(t *testing.T) {
	f := fixture(t)
	content, err := readAll(f.data, trust(t, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.res.Manifest.Entries {
		b, ok := content[e.Digest]
		if !ok || int64(len(b)) != e.Size {
			t.Fatalf("%s: got %d bytes, want %d", e.Path, len(b), e.Size)
		}
	}
}

func TestReaderSkipsChecked(t *testing.T) {
	// Entries the consumer does not read are still checked.
	f := fixture(t)
	data := flipIn(t, f.data, lastBlob(t, f.data), 3)
	r, err := bundle.Open(bytes.NewReader(data), trust(t, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, bundle.ErrDigestMismatch) {
		t.Fatalf("got %v, want %v", err, bundle.ErrDigestMismatch)
	}
}

func TestReaderRefusesTampering(t *testing.T) {
	f := fixture(t)
	ts := trust(t, 2, 1)
	for _, s := range entrySpans(t, f.data) {
		if s.size == 0 {
			continue
		}
		data := bytes.Clone(f.data)
		data[s.data+s.size/2] ^= 0x04
		if _, err := readAll(data, ts); err == nil {
			t.Errorf("flip in %s accepted", s.name)
		}
	}
	if _, err := readAll(f.data[:len(f.data)-700], ts); !errors.Is(err, bundle.ErrTruncated) {
		t.Errorf("truncated: got %v", err)
	}
	if _, err := readAll(append(bytes.Clone(f.data), 'x'), ts); !errors.Is(err, bundle.ErrTrailingData) {
		t.Errorf("trailing: got %v", err)
	}
}

func TestReaderRefusesInflation(t *testing.T) {
	f := fixture(t)
	k := keys(t)
	entries := readEntries(t, f.data)
	m, err := bundle.ParseManifest(entries[0].data)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range m.Entries {
		if e.Encoding == bundle.EncodingZstd && e.Size > 10 {
			m.Entries[i].Size = e.Size - 10
			break
		}
	}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(resign(t, entries, raw, k.signers[0]), trust(t, 1, 1))
	if !errors.Is(err, bundle.ErrInflation) {
		t.Fatalf("got %v, want %v", err, bundle.ErrInflation)
	}
}

func lastBlob(t testing.TB, data []byte) string {
	spans := entrySpans(t, data)
	return spans[len(spans)-1].name
}
