package bundle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"ferry/updates"
	"ferry/verify"
)

// Reader reads a bundle entry by entry for installation. Open checks the
// signatures and the manifest before returning; every byte read afterwards
// is checked against the signed manifest as it is read, not only in an
// earlier pass, because the file on the medium can change between two
// reads. A consumer must treat content as trusted only once it has read it
// to io.EOF without error.
type Reader struct {
	// PatchBase opens the content a patch entry applies to: one of the
	// manifest's baseBlobs, which the host holds, checked against its
	// digest by the host before it is returned. The Reader reads it at
	// offsets — whole for a zstd-patch entry (at most
	// updates.MaxPatchBase), one window at a time for a zstd-patch-seg
	// entry — and closes it when the entry ends. The patched content is checked against its own digest as
	// it is read, like any other.
	PatchBase func(digest string) (PatchBaseContent, error)

	w        *walker
	head     *trustedBundleHead
	manifest *Manifest
	raw      []byte
	signedBy []string
	seq      *sequence

	cur     *Entry
	stored  *digestReader
	content io.ReadCloser
}

// PatchBaseContent is the content a patch applies to, read at offsets: a
// blob the host already holds.
type PatchBaseContent interface {
	updates.Base
	io.Closer
}

// Open reads and checks the head of a bundle: caps, the rotation
// statements walked from trust, signatures against the resulting set, and
// the manifest.
func Open(r io.Reader, trust verify.TrustSet) (*Reader, error) {
	w := newWalker(r, nil)
	h, err := trustedHead(w, trust)
	if err != nil {
		return nil, err
	}
	return &Reader{w: w, head: h, manifest: h.manifest, raw: h.RawManifest, signedBy: h.signedBy, seq: newSequence(w, h.manifest, h.next)}, nil
}

// Trust returns the trust set the bundle verified against: the one Open
// was given, or where the bundle's rotation statements moved it.
func (r *Reader) Trust() verify.TrustSet { return r.head.trust }

// Rotations returns the rotation statements applied to reach Trust, in
// order; none when the bundle carries none newer than the trust given.
func (r *Reader) Rotations() []*verify.Rotation { return r.head.rotations }

// Manifest returns the verified manifest.
func (r *Reader) Manifest() *Manifest { return r.manifest }

// RawManifest returns the signed bytes of the manifest.
func (r *Reader) RawManifest() []byte { return r.raw }

// Digest returns the bundle's identity, the manifest's sha256.
func (r *Reader) Digest() string { return ManifestDigest(r.raw) }

// SignedBy returns the trusted key IDs whose signatures verified.
func (r *Reader) SignedBy() []string { return r.signedBy }

// Next advances to the next entry, in manifest order, and returns it. The
// previous entry's unread content is read and checked first. At the end it
// checks that nothing follows and returns io.EOF.
func (r *Reader) Next() (Entry, error) {
	if err := r.finishEntry(); err != nil {
		return Entry{}, err
	}
	want, err := r.seq.next()
	if err != nil {
		return Entry{}, err
	}
	r.cur = &r.manifest.Entries[r.seq.index]
	r.stored = &digestReader{r: io.LimitReader(r.w, want.StoredSize), h: sha256.New(), entry: want.Path,
		want: want.StoredDigest, size: want.StoredSize}
	return want, nil
}

// Content returns the current entry's content: the stored bytes for a raw
// entry, the decompressed bytes for a zstd entry, the patched bytes for a
// patch, decoded with bounded memory and stopped at the declared size. At
// its end it returns io.EOF only if both the stored and the content digest
// match.
func (r *Reader) Content() (io.ReadCloser, error) {
	if r.stored == nil {
		return nil, errors.New("bundle: Content before Next")
	}
	if r.cur.Encoding == EncodingRaw {
		r.content = io.NopCloser(r.stored)
		return r.content, nil
	}
	if IsPatch(r.cur.Encoding) {
		p, release, err := r.openPatch()
		if err != nil {
			return nil, err
		}
		r.content = &contentReader{release: release, stored: r.stored, d: p}
		return r.content, nil
	}
	z, err := NewZstdReader(r.stored)
	if err != nil {
		return nil, newError(ErrDigestMismatch, r.cur.Path, err)
	}
	r.content = &contentReader{release: z.Close, stored: r.stored, d: &digestReader{
		r: io.LimitReader(z, r.cur.Size+1), h: sha256.New(), entry: r.cur.Path,
		want: r.cur.Digest, size: r.cur.Size, inflation: true,
	}}
	return r.content, nil
}

// openPatch opens the current entry's base and returns the patched
// content, checked against the entry's size and digest, and what releases
// the decoder and the base.
func (r *Reader) openPatch() (io.Reader, func(), error) {
	e := r.cur
	if r.PatchBase == nil {
		return nil, nil, fmt.Errorf("entry %q is a patch and its base content is not available", e.Path)
	}
	base, err := r.PatchBase(e.PatchBase)
	if err != nil {
		return nil, nil, fmt.Errorf("entry %q: patch base %s: %w", e.Path, e.PatchBase, err)
	}
	d := updates.Decoder{Segmented: e.Encoding == EncodingZstdPatchSeg, StoredSize: e.StoredSize, Size: e.Size, Digest: e.Digest}
	content, err := d.Open(r.stored, base)
	if errors.Is(err, updates.ErrBase) {
		base.Close()
		return nil, nil, fmt.Errorf("entry %q: patch base %s: %w", e.Path, e.PatchBase, err)
	}
	if err != nil {
		base.Close()
		// A patch that does not open may be the first sign of stored
		// bytes that do not match their signed digest: that is the cause.
		if _, serr := io.Copy(io.Discard, r.stored); serr != nil {
			return nil, nil, serr
		}
		return nil, nil, newError(ErrDigestMismatch, e.Path, err)
	}
	return &patchReader{r: content, entry: e.Path}, func() { content.Close(); base.Close() }, nil
}

// patchReader gives the failures of patched content the kinds of the
// other entries': more bytes than the size is ErrInflation, fewer
// ErrSizeMismatch, anything else ErrDigestMismatch.
type patchReader struct {
	r     io.Reader
	entry string
}

func (p *patchReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	switch {
	case err == nil || err == io.EOF:
		return n, err
	case errors.Is(err, updates.ErrInflation):
		return n, newError(ErrInflation, p.entry, err)
	case errors.Is(err, updates.ErrSize):
		return n, newError(ErrSizeMismatch, p.entry, err)
	default:
		return n, newError(ErrDigestMismatch, p.entry, err)
	}
}

// finishEntry reads what is left of the current entry so that its stored
// digest is checked even when the consumer skipped it (content already in
// the store, say).
func (r *Reader) finishEntry() error {
	if r.stored == nil {
		return nil
	}
	if r.content != nil {
		if cr, ok := r.content.(*contentReader); ok {
			cr.Close()
		}
	}
	_, err := io.Copy(io.Discard, r.stored)
	r.stored, r.content, r.cur = nil, nil, nil
	return err
}

// digestReader hashes what it reads and, at the end, compares the count
// and digest with the signed ones.
type digestReader struct {
	r         io.Reader
	h         hash.Hash
	n         int64
	entry     string
	want      string
	size      int64
	inflation bool // reading decompressed content: more than size is ErrInflation
	done      bool
	err       error
}

func (d *digestReader) Read(p []byte) (int, error) {
	if d.done {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	if d.inflation && d.n > d.size {
		d.done, d.err = true, newError(ErrInflation, d.entry, fmt.Errorf("more than the %d bytes declared", d.size))
		return n, d.err
	}
	if errors.Is(err, io.EOF) {
		d.done = true
		switch {
		case d.n != d.size && !d.inflation:
			d.err = newError(ErrTruncated, d.entry, fmt.Errorf("%d of %d bytes", d.n, d.size))
		case d.n != d.size:
			d.err = newError(ErrSizeMismatch, d.entry, fmt.Errorf("inflates to %d bytes, %d declared", d.n, d.size))
		case digestOf(d.h) != d.want:
			d.err = newError(ErrDigestMismatch, d.entry, fmt.Errorf("got %s, signed %s", digestOf(d.h), d.want))
		default:
			d.err = io.EOF
		}
		return n, d.err
	}
	if err != nil {
		d.done = true
		if d.inflation {
			d.err = newError(ErrDigestMismatch, d.entry, fmt.Errorf("decompressing: %w", err))
		} else {
			d.err = tarError(err, d.entry)
		}
		return n, d.err
	}
	return n, nil
}

// contentReader is the decoded view of a zstd or patch entry; at the end
// it also drains and checks the stored bytes.
type contentReader struct {
	release func() // the decoder and, for a patch, its base
	closed  bool
	stored  *digestReader
	d       io.Reader // the checked content
}

func (c *contentReader) Read(p []byte) (int, error) {
	n, err := c.d.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && c.stored.err != nil && !errors.Is(c.stored.err, io.EOF) {
		// The stored bytes failed first: that is the cause to report.
		return n, c.stored.err
	}
	if err == io.EOF {
		// The stored bytes after the last frame, if any, must still hash.
		if _, serr := io.Copy(io.Discard, c.stored); serr != nil {
			return n, serr
		}
	}
	return n, err
}

// Close releases the decoder; it may be called more than once.
func (c *contentReader) Close() error {
	if !c.closed {
		c.closed = true
		c.release()
	}
	return nil
}
