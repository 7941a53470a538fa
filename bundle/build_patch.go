package bundle

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// tryPatch makes a changed file of an update travel as a zstd patch
// against the base's file at the same path, when both are small enough to
// hold in memory and the patch is clearly smaller than the blob as it
// stands.
func (b *builder) tryPatch(bl *blob) error {
	if b.base == nil || bl.dest == "" || bl.image || bl.size > MaxPatchBase {
		return nil
	}
	bf, ok := b.baseFiles[bl.dest]
	if !ok || bf.Size > MaxPatchBase || bf.Digest == bl.digest {
		return nil
	}
	base, err := readBaseBlob(b.opts.Base, b.baseManifest, bf.Digest)
	if errors.Is(err, errNotPatchable) {
		return nil
	}
	if err != nil {
		return err
	}
	content, err := readAllVerified(bl)
	if err != nil {
		return err
	}
	patch, err := encodePatch(base, content)
	if err != nil {
		return err
	}
	if float64(len(patch)) > 0.9*float64(bl.storedLen) {
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
	if bl.staged != "" {
		os.Remove(bl.staged)
	}
	bl.encoding, bl.staged, bl.storedLen = EncodingZstdPatch, f.Name(), int64(len(patch))
	bl.stored = digestBytes(patch)
	bl.patchBase = bf.Digest
	b.fromBase[bf.Digest] = true
	return nil
}

// errNotPatchable: the base stores that content as a patch itself, so it
// cannot serve as a patch base without its own base.
var errNotPatchable = errors.New("base content is itself a patch")

// readBaseBlob reads the content with digest d from the base bundle file,
// decoding it, and checks it against its digest.
func readBaseBlob(path string, m *Manifest, d string) ([]byte, error) {
	var want Entry
	for _, e := range m.Entries {
		if e.Digest == d && e.Path != IndexPath && e.Path != LayoutPath {
			want = e
		}
	}
	switch {
	case want.Path == "":
		return nil, errNotPatchable // from the base's own base
	case want.Encoding == EncodingZstdPatch:
		return nil, errNotPatchable
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("base bundle %s: no entry %s", path, want.Path)
		}
		if err != nil {
			return nil, fmt.Errorf("base bundle %s: %w", path, err)
		}
		if hdr.Name != want.Path {
			continue
		}
		var r io.Reader = io.LimitReader(tr, want.StoredSize)
		if want.Encoding == EncodingZstd {
			dec, err := NewZstdReader(r)
			if err != nil {
				return nil, err
			}
			defer dec.Close()
			r = dec
		}
		content, err := io.ReadAll(io.LimitReader(r, want.Size+1))
		if err != nil {
			return nil, fmt.Errorf("base bundle %s: %s: %w", path, want.Path, err)
		}
		if int64(len(content)) != want.Size || digestBytes(content) != d {
			return nil, fmt.Errorf("base bundle %s: %s does not match its digest", path, want.Path)
		}
		return content, nil
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
