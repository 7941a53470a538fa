package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
)

// patchKeep is how much smaller than the blob as it stands a patch must
// be to replace it: a patch costs the host a base read.
const patchKeep = 0.9

// tryPatch makes a changed file of an update travel as a zstd patch
// against the base's file at the same path, when the patch is clearly
// smaller than the blob as it stands: whole when the file and its base are
// small enough to hold in memory, by segments otherwise.
func (b *builder) tryPatch(bl *blob) error {
	if b.base == nil || bl.dest == "" || bl.image || bl.size == 0 {
		return nil
	}
	bf, ok := b.baseFiles[bl.dest]
	if !ok || bf.Digest == bl.digest {
		return nil
	}
	want, err := patchableEntry(b.baseManifest, bf.Digest)
	if errors.Is(err, errNotPatchable) {
		return nil
	}
	if err != nil {
		return err
	}
	if bl.size <= b.opts.Patch.WholeMax && want.Size <= b.opts.Patch.WholeMax {
		return b.patchWhole(bl, want)
	}
	return b.patchSegments(bl, want)
}

// patchWhole patches bl against the whole of base, in memory.
func (b *builder) patchWhole(bl *blob, base Entry) error {
	var buf bytes.Buffer
	if err := copyBaseBlob(&buf, b.opts.Base, base); err != nil {
		return err
	}
	content, err := readAllVerified(bl)
	if err != nil {
		return err
	}
	patch, err := encodePatch(buf.Bytes(), content)
	if err != nil {
		return err
	}
	if float64(len(patch)) > patchKeep*float64(bl.storedLen) {
		return nil
	}
	f, err := os.CreateTemp(b.staging, "patch-*.zst")
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(patch); err != nil {
		return err
	}
	b.usePatch(bl, EncodingZstdPatch, f.Name(), int64(len(patch)), digestBytes(patch), base.Digest)
	return nil
}

// patchSegments patches bl by segments against base, which it first
// decodes into the staging directory for reading at offsets. Memory holds
// a segment and a base window for each of up to maxPatchWorkers segments
// compressed at once.
func (b *builder) patchSegments(bl *blob, base Entry) error {
	p := b.opts.Patch
	if segmentCount(bl.size, p.SegmentSize) > MaxSegments {
		return nil
	}
	bf, err := os.CreateTemp(b.staging, "base-*")
	if err != nil {
		return err
	}
	defer os.Remove(bf.Name())
	defer bf.Close()
	if err := copyBaseBlob(bf, b.opts.Base, base); err != nil {
		return err
	}

	rc, err := bl.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(b.staging, "patch-*.seg.zst")
	if err != nil {
		return err
	}
	defer f.Close()
	keep := false
	defer func() {
		if !keep {
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	limit := int64(patchKeep * float64(bl.storedLen))
	n, err := encodeSegments(b.ctx, f, io.TeeReader(rc, h), bl.size, bf, base.Size, p.SegmentSize, p.SegmentMargin, limit, min(b.opts.Workers, maxPatchWorkers))
	if errors.Is(err, errPatchTooLarge) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", bl.source, err)
	}
	var one [1]byte
	if k, _ := rc.Read(one[:]); k > 0 || digestOf(h) != bl.digest {
		return fmt.Errorf("%s: content changed while the bundle was being built", bl.source)
	}
	stored := sha256.New()
	if _, err := io.Copy(stored, io.NewSectionReader(f, 0, n)); err != nil {
		return err
	}
	keep = true
	b.usePatch(bl, EncodingZstdPatchSeg, f.Name(), n, digestOf(stored), base.Digest)
	return nil
}

// usePatch makes bl travel as the patch staged at path.
func (b *builder) usePatch(bl *blob, encoding, path string, storedLen int64, stored, base string) {
	if bl.staged != "" {
		os.Remove(bl.staged)
	}
	bl.encoding, bl.staged, bl.storedLen, bl.stored = encoding, path, storedLen, stored
	bl.patchBase = base
	b.fromBase[base] = true
}

// errNotPatchable: the base stores that content as a patch itself, so it
// cannot serve as a patch base without its own base.
var errNotPatchable = errors.New("base content is itself a patch")

// patchableEntry is the entry of the base bundle that holds the content
// with digest d, when it can serve as a patch base.
func patchableEntry(m *Manifest, d string) (Entry, error) {
	want, ok := m.EntryByDigest(d)
	if !ok || IsPatch(want.Encoding) {
		return Entry{}, errNotPatchable // from the base's own base, or a patch
	}
	return want, nil
}

// copyBaseBlob writes the content of entry want of the base bundle file at
// path to w, decoding it, and checks it against its digest.
func copyBaseBlob(w io.Writer, path string, want Entry) error {
	f, err := OpenArchive(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(TarStream(f))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("base bundle %s: no entry %s", path, want.Path)
		}
		if err != nil {
			return fmt.Errorf("base bundle %s: %w", path, err)
		}
		if hdr.Name != want.Path {
			continue
		}
		var r io.Reader = io.LimitReader(tr, want.StoredSize)
		if want.Encoding == EncodingZstd {
			dec, err := NewZstdReader(r)
			if err != nil {
				return err
			}
			defer dec.Close()
			r = dec
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, want.Size+1))
		if err != nil {
			return fmt.Errorf("base bundle %s: %s: %w", path, want.Path, err)
		}
		if n != want.Size || digestOf(h) != want.Digest {
			return fmt.Errorf("base bundle %s: %s does not match its digest", path, want.Path)
		}
		return nil
	}
}

// readAllVerified reads a source whole and checks it is still what was
// scanned.
func readAllVerified(bl *blob) ([]byte, error) {
	rc, err := bl.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, bl.size+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) != bl.size || digestBytes(buf.Bytes()) != bl.digest {
		return nil, fmt.Errorf("%s: content changed while the bundle was being built", bl.source)
	}
	return buf.Bytes(), nil
}
