package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/verify"
)

// Small segments, so that a file of a few hundred KiB is patched the way
// a large one is.
var smallSegments = bundle.PatchOptions{WholeMax: 64 << 10, SegmentSize: 64 << 10, SegmentMargin: 16 << 10}

// appProject writes a project whose only file is bin/app.
func appProject(t *testing.T, dir, version string, content []byte) *spec.Spec {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "app"), content, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := "apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: app, version: " + version + "}\n" +
		"components:\n  - name: app\n    files:\n      - {src: bin/app, dest: bin/app, mode: \"0755\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// memoryBase is patch base content in memory that records its reads.
type memoryBase struct {
	data    []byte
	mu      sync.Mutex
	largest int
	closed  bool
}

func (m *memoryBase) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	m.largest = max(m.largest, len(p))
	m.mu.Unlock()
	return bytes.NewReader(m.data).ReadAt(p, off)
}

func (m *memoryBase) Size() int64  { return int64(len(m.data)) }
func (m *memoryBase) Close() error { m.closed = true; return nil }

// readPatched reads every entry of a bundle through the installing Reader,
// with base (if not nil) as the content every patch applies to.
func readPatched(data []byte, ts verify.TrustSet, base *memoryBase) (map[string][]byte, error) {
	var lookup func(string) (bundle.PatchBaseContent, error)
	if base != nil {
		lookup = func(string) (bundle.PatchBaseContent, error) { return base, nil }
	}
	return readPatchedFrom(data, ts, lookup)
}

// readPatchedFrom is readPatched with the base of each patch found by
// lookup, from its digest.
func readPatchedFrom(data []byte, ts verify.TrustSet, lookup func(digest string) (bundle.PatchBaseContent, error)) (map[string][]byte, error) {
	r, err := bundle.Open(bytes.NewReader(data), ts)
	if err != nil {
		return nil, err
	}
	r.PatchBase = lookup
	out := map[string][]byte{}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		c, err := r.Content()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			return nil, err
		}
		out[e.Digest] = b
	}
}

// TestSegmentedDelta: a large changed file travels as a segmented patch,
// verifies deeply, and the installing Reader rebuilds it reading the base
// one bounded window at a time. A validly signed segmented entry whose
// header breaks the format is refused by deep verification and by the
// Reader.
func TestSegmentedDelta(t *testing.T) {
	k := keys(t)
	dir := t.TempDir()
	if err := fixtures.WriteFile(filepath.Join(dir, "seed"), fixtures.KindBinary, 200<<10, "delta-seg"); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(filepath.Join(dir, "seed"))
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Clone(content)
	copy(changed[150<<10:], "changed in the middle of the third segment")
	changed = append(changed, "and grown at the end"...)
	basePath := filepath.Join(dir, "base.ferry")
	build := func(out string, spec *spec.Spec, base string) *bundle.BuildResult {
		res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{
			Spec: spec, Signers: k.signers[:1], Created: time.Unix(1, 0), Base: base, Patch: smallSegments,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	build(basePath, appProject(t, filepath.Join(dir, "p1"), "1.0.0", content), "")
	update := filepath.Join(dir, "update.ferry")
	res := build(update, appProject(t, filepath.Join(dir, "p2"), "1.1.0", changed), basePath)

	var seg bundle.Entry
	for _, e := range res.Manifest.Entries {
		if e.Encoding == bundle.EncodingZstdPatchSeg {
			seg = e
		}
	}
	sum := sha256.Sum256(content)
	if seg.Path == "" || seg.PatchBase != "sha256:"+hex.EncodeToString(sum[:]) || seg.StoredSize > 4<<10 {
		t.Fatalf("no small segmented patch against the base's bin/app: %+v", res.Manifest.Entries)
	}
	t.Logf("%d bytes travel as a segmented patch of %d bytes", seg.Size, seg.StoredSize)
	if v, err := bundle.VerifyFile(context.Background(), update, bundle.VerifyOptions{Trust: trust(t, 1, 1), Deep: true}); err != nil {
		t.Fatal(err)
	} else if v.Digest != res.Digest {
		t.Fatalf("verified %s, built %s", v.Digest, res.Digest)
	}

	data, err := os.ReadFile(update)
	if err != nil {
		t.Fatal(err)
	}
	base := &memoryBase{data: content}
	got, err := readPatched(data, trust(t, 1, 1), base)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[seg.Digest], changed) {
		t.Fatal("the patched content differs")
	}
	window := int(smallSegments.SegmentSize + 2*smallSegments.SegmentMargin)
	if base.largest == 0 || base.largest > window || !base.closed {
		t.Fatalf("base read in windows of up to %d bytes (want 1 to %d), closed %v", base.largest, window, base.closed)
	}
	if _, err := readAll(data, trust(t, 1, 1)); err == nil {
		t.Fatal("a patch was read without its base")
	}

	t.Run("signed but malformed", func(t *testing.T) {
		entries := readEntries(t, data)
		m, err := bundle.ParseManifest(entries[0].data)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			if e.name != seg.Path {
				continue
			}
			bad := bytes.Clone(e.data)
			bad[27] = 0x7f // the margin's top byte: far over the bound
			entries[i].data = bad
			sum := sha256.Sum256(bad)
			for j := range m.Entries {
				if m.Entries[j].Path == seg.Path {
					m.Entries[j].StoredDigest = "sha256:" + hex.EncodeToString(sum[:])
				}
			}
		}
		raw, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		data := resign(t, entries, raw, k.signers[0])
		if _, err := verifyBytes(data, trust(t, 1, 1), false); err != nil {
			t.Fatalf("stored digests still match, plain verify must pass: %v", err)
		}
		_, err = verifyBytes(data, trust(t, 1, 1), true)
		checkRefusal(t, err, bundle.ErrDigestMismatch, seg.Path)
		if _, err := readPatched(data, trust(t, 1, 1), &memoryBase{data: content}); !errors.Is(err, bundle.ErrDigestMismatch) {
			t.Fatalf("reader: got %v, want %v", err, bundle.ErrDigestMismatch)
		}
	})
}
