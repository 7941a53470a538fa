package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"ferry/bundle"
	"ferry/verify"
)

// largeFileProject writes a project whose one file, big.log, is n bytes
// of compressible content, and returns its spec path and the content.
func largeFileProject(t *testing.T, n int) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%08d level=info msg=\"request served\" path=/api/v1/items/%d status=200 bytes=%d\n", i, i*7919%100003, i*31%4096)
	}
	content := b.Bytes()[:n]
	if err := os.WriteFile(filepath.Join(dir, "big.log"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := "apiVersion: ferry/v1\nkind: Bundle\nmetadata:\n  name: big\n  version: 1.0.0\n  vendor: Example Corp\n" +
		"components:\n  - name: logs\n    files:\n      - {src: big.log, dest: big.log}\n"
	path := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, content
}

func buildSpec(t *testing.T, specPath string, workers int, s verify.Signer) []byte {
	t.Helper()
	spec, err := bundle.LoadSpec(specPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "big.ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{
		Spec: spec, Signers: []verify.Signer{s}, Workers: workers, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// zstdEntry returns the index of the bundle's one zstd blob entry and the
// manifest.
func zstdEntry(t *testing.T, es []tarEntry) (int, *bundle.Manifest) {
	t.Helper()
	m, err := bundle.ParseManifest(es[0].data)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if bytes.HasSuffix([]byte(e.name), []byte(".zst")) {
			return i, m
		}
	}
	t.Fatal("no zstd entry")
	return 0, nil
}

// TestLargeFileFrames: a file of several segments is stored as several
// zstd frames that read back, through Verify --deep and the Reader, as the
// file; and the bundle is the same bytes whatever the number of workers.
func TestLargeFileFrames(t *testing.T) {
	k := keys(t)
	specPath, content := largeFileProject(t, 10<<20+777)
	data := buildSpec(t, specPath, 1, k.signers[1])
	if other := buildSpec(t, specPath, 3, k.signers[1]); !bytes.Equal(data, other) {
		t.Fatal("the bundle differs between 1 and 3 workers")
	}
	es := readEntries(t, data)
	i, _ := zstdEntry(t, es)
	// 1 MiB, then 4 MiB, 4 MiB and the last 1 MiB and 777 bytes
	if frames := countFrames(t, es[i].data); frames != 4 {
		t.Errorf("%d frames for %d bytes of content, want 4", frames, len(content))
	}
	ts := verify.TrustSet{Keys: k.pubs[1:2], Threshold: 1}
	if _, err := verifyBytes(data, ts, true); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(data, ts)
	if err != nil {
		t.Fatal(err)
	}
	if !hasContent(got, content) {
		t.Fatal("the Reader did not yield the file's content")
	}
}

// TestSingleFrameEntryReads: a zstd entry of one frame over the whole
// file, as ferry wrote before it wrote one frame per segment, still
// verifies and reads.
func TestSingleFrameEntryReads(t *testing.T) {
	k := keys(t)
	specPath, content := largeFileProject(t, 10<<20+777)
	es := readEntries(t, buildSpec(t, specPath, 0, k.signers[0]))
	i, m := zstdEntry(t, es)

	var one bytes.Buffer
	enc, err := zstd.NewWriter(&one, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if countFrames(t, one.Bytes()) != 1 {
		t.Fatal("the earlier form is not one frame")
	}
	es[i].data = one.Bytes()
	for j, e := range m.Entries {
		if e.Encoding == bundle.EncodingZstd {
			m.Entries[j].StoredSize, m.Entries[j].StoredDigest = int64(one.Len()), digestOfBytes(one.Bytes())
		}
	}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	data := resign(t, es, raw, k.signers[0])
	ts := verify.TrustSet{Keys: k.pubs[:1], Threshold: 1}
	if _, err := verifyBytes(data, ts, true); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(data, ts)
	if err != nil {
		t.Fatal(err)
	}
	if !hasContent(got, content) {
		t.Fatal("the Reader did not yield the file's content")
	}
}

// countFrames counts the zstd frames of b, walking their blocks (RFC
// 8878 section 3.1.1).
func countFrames(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		var h zstd.Header
		if err := h.Decode(b); err != nil {
			t.Fatalf("frame %d: %v", n+1, err)
		}
		b = b[h.HeaderSize:]
		for last := false; !last; {
			if len(b) < 3 {
				t.Fatalf("frame %d: cut short", n+1)
			}
			bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			last = bh&1 == 1
			size := int(bh >> 3)
			if (bh>>1)&3 == 1 { // RLE: one byte
				size = 1
			}
			if len(b) < 3+size {
				t.Fatalf("frame %d: block cut short", n+1)
			}
			b = b[3+size:]
		}
		if h.HasCheckSum {
			b = b[4:]
		}
		n++
	}
	return n
}

func digestOfBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func hasContent(got map[string][]byte, content []byte) bool {
	for _, b := range got {
		if bytes.Equal(b, content) {
			return true
		}
	}
	return false
}
