package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/internal/atomicfile"
	"ferry/verify"
)

// PaddingPath is the optional entry of zero bytes between the signatures and
// the content: the builder writes content while it is still scanning, after
// a region reserved for the manifest and signatures, whose exact size is only
// known at the end.
const PaddingPath = "padding"

// write streams the bundle into a temporary file next to out: content
// first, after a reserved region, while the scanner is still working (for
// an update, once it is done); then the manifest, signatures and padding
// into the reserved region; then it commits the file (see atomicfile). Writing content while
// compressing keeps the disk busy during the build instead of after it.
func (b *builder) write(out string, m *Manifest, workers int) (*BuildResult, error) {
	sc := b.startScan(workers)
	defer sc.stop()
	if b.base != nil {
		// An update carries only what its base lacks, known once every
		// blob is hashed: the head region is sized from the entries it
		// carries, not from every blob it uses. Updates carry little, so
		// little is lost by writing after the scan rather than during it.
		for _, bl := range sc.todo {
			if err := sc.wait(b.ctx, bl); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrSource, err)
			}
		}
		if err := b.checkMigrations(m); err != nil {
			return nil, err
		}
		if err := b.prepareUpdate(sc.todo, workers); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSource, err)
		}
	}
	reserve, err := b.reserveHead(m)
	if err != nil {
		return nil, err
	}
	// A bundle is for others to read and carry: mode 0644.
	p, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { p.Abort() }() // p changes when the bundle is compressed
	f := p.File()

	body := &countWriter{w: io.NewOffsetWriter(f, reserve)}
	tw := tar.NewWriter(body)
	err = b.writeBody(tw, m, sc)
	sc.stop()
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := b.finish(m); err != nil {
		return nil, err
	}
	raw, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	sigs, err := signAll(raw, b.opts.Signers)
	if err != nil {
		return nil, err
	}
	if err := checkSignersSatisfy(b.rotations, raw, sigs); err != nil {
		return nil, err
	}
	head, err := headBytes(raw, sigs, b.rotations, reserve, b.mtime)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(head, 0); err != nil {
		return nil, err
	}
	plain := reserve + body.n
	p, compressed, err := compressFile(p, plain, b.opts.Compress, b.base != nil, out)
	if err != nil {
		return nil, err
	}
	size, err := p.File().Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if err := p.Commit(); err != nil {
		return nil, err
	}
	return &BuildResult{Manifest: m, Digest: ManifestDigest(raw), Size: size, PlainSize: plain, Compressed: compressed}, nil
}

// writeBody writes the OCI layout files, then image blobs (which need no
// scanning), then every scanned blob in scan order as it becomes ready. A
// content digest is written once; m.Entries records what was written.
func (b *builder) writeBody(tw *tar.Writer, m *Manifest, sc *scanner) error {
	put := func(e Entry, data []byte) error {
		if err := tw.WriteHeader(tarHeader(e.Path, e.StoredSize, b.mtime)); err != nil {
			return err
		}
		_, err := tw.Write(data)
		m.Entries = append(m.Entries, e)
		return err
	}
	if len(b.layout) > 0 {
		if err := put(b.layout[0], []byte(ociLayout)); err != nil {
			return err
		}
		if err := put(b.layout[1], b.index); err != nil {
			return err
		}
	}
	written := map[string]bool{}
	var total, done int64
	for _, bl := range b.order {
		total += bl.sizeHint
	}
	buf := make([]byte, chunkSize)
	writeBlob := func(bl *blob) error {
		if written[bl.digest] {
			return nil
		}
		written[bl.digest] = true
		if b.base[bl.digest] {
			b.fromBase[bl.digest] = true
			return nil
		}
		if err := tw.WriteHeader(tarHeader(BlobEntryPath(bl.digest, bl.encoding), bl.storedLen, b.mtime)); err != nil {
			return err
		}
		if err := copyBlob(tw, bl, buf); err != nil {
			return err
		}
		m.Entries = append(m.Entries, Entry{
			Path: BlobEntryPath(bl.digest, bl.encoding), Digest: bl.digest, Size: bl.size,
			Encoding: bl.encoding, StoredDigest: bl.stored, StoredSize: bl.storedLen,
			PatchBase: bl.patchBase,
		})
		done += bl.sizeHint
		if b.opts.Progress != nil {
			b.opts.Progress("write", done, total)
		}
		return nil
	}
	for _, bl := range b.order {
		if !bl.image {
			continue
		}
		bl.encoding, bl.stored, bl.storedLen = EncodingRaw, bl.digest, bl.size
		if err := writeBlob(bl); err != nil {
			return sc.err(fmt.Errorf("%w: %w", ErrSource, err))
		}
		if f := b.opts.Images.Fetcher; f != nil {
			if h, err := v1.NewHash(bl.digest); err == nil {
				f.Discard(h)
			}
		}
		if err := b.ctx.Err(); err != nil {
			return sc.err(err)
		}
	}
	for _, bl := range sc.todo {
		if err := sc.wait(b.ctx, bl); err != nil {
			return fmt.Errorf("%w: %w", ErrSource, err)
		}
		err := writeBlob(bl)
		if bl.staged != "" {
			os.Remove(bl.staged)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSource, err)
		}
	}
	return nil
}

// copyBlob writes one blob's stored bytes and checks them against the
// digest the manifest will sign: a source that changed since it was
// scanned, or an image blob that does not match its declared digest, fails
// the build.
func copyBlob(w io.Writer, bl *blob, buf []byte) error {
	var rc io.ReadCloser
	var err error
	if bl.staged != "" {
		rc, err = os.Open(bl.staged)
	} else {
		rc, err = bl.open()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", bl.source, err)
	}
	defer rc.Close()
	if bl.checked {
		// Fetched and checked into the staging directory: only its
		// length is left to check.
		n, err := io.CopyBuffer(w, io.LimitReader(rc, bl.storedLen+1), buf)
		if err != nil {
			return fmt.Errorf("%s: %w", bl.source, err)
		}
		if n != bl.storedLen {
			return fmt.Errorf("%s: %d bytes, not the %d fetched", bl.source, n, bl.storedLen)
		}
		return nil
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(rc, bl.storedLen), buf)
	if err != nil {
		return fmt.Errorf("%s: %w", bl.source, err)
	}
	if n != bl.storedLen || digestOf(h) != bl.stored {
		return fmt.Errorf("%s: content does not match %s (%d bytes): it changed while the bundle was being built, or its source declared it wrongly", bl.source, bl.stored, bl.storedLen)
	}
	var one [1]byte
	if k, _ := rc.Read(one[:]); k > 0 {
		return fmt.Errorf("%s: content grew while the bundle was being built", bl.source)
	}
	return nil
}

// finish fills the digests into the manifest's components and checks the
// result against the rules every reader applies.
func (b *builder) finish(m *Manifest) error {
	sizes := map[string]int64{}
	for _, bl := range b.order {
		for _, r := range bl.refs {
			*r = bl.digest
		}
		sizes[bl.digest] = bl.size
	}
	for ci := range m.Components {
		for fi := range m.Components[ci].Files {
			f := &m.Components[ci].Files[fi]
			f.Size = sizes[f.Digest]
		}
	}
	m.BaseBlobs = nil
	for d := range b.fromBase {
		m.BaseBlobs = append(m.BaseBlobs, d)
	}
	sort.Strings(m.BaseBlobs)
	raw, err := m.Marshal()
	if err != nil {
		return err
	}
	if _, err := ParseManifest(raw); err != nil {
		return fmt.Errorf("build: the manifest does not pass its own checks: %w", err)
	}
	return nil
}

// reserveHead returns how many bytes to reserve at the start of the file
// for the manifest, the signatures and a padding entry. It builds the
// largest manifest the build can produce. A blob whose digest is not known
// yet (a full build scans while it writes) counts as stored separately,
// compressed, with its full size, under a placeholder digest of the real
// length. An update knows every digest: what its base holds counts in
// baseBlobs and not as an entry, and a changed file counts as the largest
// patch it may become.
func (b *builder) reserveHead(m *Manifest) (int64, error) {
	worst := *m
	worst.Components = make([]Component, len(m.Components))
	copy(worst.Components, m.Components)
	worst.Entries = append([]Entry(nil), b.layout...)
	placeholder := func(i int) string { return fmt.Sprintf("sha256:%064x", i+1) }
	known := func(bl *blob) bool { return bl.image || (b.base != nil && bl.digest != "") }
	counted := map[string]bool{}
	fromBase := map[string]bool{}
	sizes := map[string]int64{}
	for i, bl := range b.order {
		d, size := placeholder(i), bl.sizeHint
		if known(bl) {
			d, size = bl.digest, bl.size
		}
		for _, r := range bl.refs {
			*r = d
		}
		sizes[d] = size
		if counted[d] {
			continue
		}
		counted[d] = true
		if known(bl) && b.base[d] {
			fromBase[d] = true
			continue
		}
		e := Entry{
			Path: BlobEntryPath(d, EncodingZstd), Digest: d, Size: size,
			Encoding: EncodingZstd, StoredDigest: d, StoredSize: size,
		}
		if bf, ok := b.baseFiles[bl.dest]; ok && !bl.image && bf.Digest != d {
			// It may travel as a patch against the base's file.
			e.Path, e.Encoding, e.PatchBase = BlobEntryPath(d, EncodingZstdPatchSeg), EncodingZstdPatchSeg, bf.Digest
			fromBase[bf.Digest] = true
		}
		worst.Entries = append(worst.Entries, e)
	}
	worst.BaseBlobs = nil
	for d := range fromBase {
		worst.BaseBlobs = append(worst.BaseBlobs, d)
	}
	sort.Strings(worst.BaseBlobs)
	for ci := range worst.Components {
		files := make([]File, len(m.Components[ci].Files))
		copy(files, m.Components[ci].Files)
		for fi := range files {
			files[fi].Size = 1<<42 - 1 // as many digits as any real size
			if b.base != nil {
				files[fi].Size = sizes[files[fi].Digest]
			}
		}
		worst.Components[ci].Files = files
	}
	raw, err := worst.Marshal()
	for _, bl := range b.order {
		for _, r := range bl.refs {
			*r = ""
		}
	}
	if err != nil {
		return 0, err
	}
	sigs, err := signAll(raw, b.opts.Signers)
	if err != nil {
		return 0, err
	}
	n := entrySize(int64(len(raw)))
	for _, s := range sigs {
		// OpenPGP signatures vary by a few bytes with their numbers.
		n += entrySize(int64(len(s.Data)) + 64)
	}
	for _, r := range b.rotations {
		n += entrySize(int64(len(r.File)))
	}
	return n + blockSize, nil
}

// entrySize is the bytes a tar entry of size n takes: header and padded
// content.
func entrySize(n int64) int64 { return blockSize + roundBlock(n) }

// headBytes encodes the manifest, signature and rotation statement entries
// and fills what is left of the reserved region with a padding entry of
// zeros.
func headBytes(raw []byte, sigs []verify.Signature, rots []*verify.Rotation, reserve int64, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(reserve))
	tw := tar.NewWriter(&buf)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(tarHeader(name, int64(len(data)), mtime)); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
		return tw.Flush()
	}
	if err := put(ManifestPath, raw); err != nil {
		return nil, err
	}
	for _, s := range sigs {
		if err := put(s.FileName(), s.Data); err != nil {
			return nil, err
		}
	}
	for _, r := range rots {
		if err := put(RotationEntryPath(r.Sequence), r.File); err != nil {
			return nil, err
		}
	}
	gap := reserve - int64(buf.Len())
	switch {
	case gap < 0:
		return nil, fmt.Errorf("build: the manifest and signatures take %d bytes, more than the %d reserved (did a source grow during the build?)", buf.Len(), reserve)
	case gap > 0:
		if err := put(PaddingPath, make([]byte, gap-blockSize)); err != nil {
			return nil, err
		}
	}
	if int64(buf.Len()) != reserve {
		return nil, fmt.Errorf("build: head of %d bytes does not fill the %d reserved", buf.Len(), reserve)
	}
	return buf.Bytes(), nil
}
