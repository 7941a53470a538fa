package bundle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"

	"ferry/verify"
)

// Reader reads a bundle entry by entry for installation. Open checks the
// signatures and the manifest before returning; every byte read afterwards
// is checked against the signed manifest as it is read, not only in an
// earlier pass, because the file on the medium can change between two
// reads. A consumer must treat content as trusted only once it has read it
// to io.EOF without error.
type Reader struct {
	// PatchBase returns the content a zstd-patch entry applies to (one of
	// the manifest's baseBlobs, which the host holds); the content is
	// checked against the digest after patching.
	PatchBase func(digest string) ([]byte, error)

	w        *walker
	manifest *Manifest
	raw      []byte
	signedBy []string
	seq      *sequence

	cur     *Entry
	stored  *digestReader
	content io.ReadCloser
}

// Open reads and checks the head of a bundle: caps, signatures against
// trust, and the manifest.
func Open(r io.Reader, trust verify.TrustSet) (*Reader, error) {
	w := newWalker(r, nil)
	head, m, signedBy, err := trustedHead(w, trust)
	if err != nil {
		return nil, err
	}
	return &Reader{w: w, manifest: m, raw: head.RawManifest, signedBy: signedBy, seq: newSequence(w, m, head.next)}, nil
}

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
// entry, the decompressed bytes for a zstd entry, decoded with bounded
// memory and stopped at the declared size. At its end it returns io.EOF
// only if both the stored and the content digest match.
func (r *Reader) Content() (io.ReadCloser, error) {
	if r.stored == nil {
		return nil, errors.New("bundle: Content before Next")
	}
	if r.cur.Encoding == EncodingRaw {
		r.content = io.NopCloser(r.stored)
		return r.content, nil
	}
	var dec *zstd.Decoder
	var err error
	if r.cur.Encoding == EncodingZstdPatch {
		if r.PatchBase == nil {
			return nil, fmt.Errorf("entry %q is a patch and its base content is not available", r.cur.Path)
		}
		base, berr := r.PatchBase(r.cur.PatchBase)
		if berr != nil {
			return nil, fmt.Errorf("entry %q: patch base %s: %w", r.cur.Path, r.cur.PatchBase, berr)
		}
		dec, err = NewPatchReader(r.stored, base)
	} else {
		dec, err = NewZstdReader(r.stored)
	}
	if err != nil {
		return nil, newError(ErrDigestMismatch, r.cur.Path, err)
	}
	r.content = &contentReader{dec: dec, stored: r.stored, d: &digestReader{
		r: io.LimitReader(dec, r.cur.Size+1), h: sha256.New(), entry: r.cur.Path,
		want: r.cur.Digest, size: r.cur.Size, inflation: true,
	}}
	return r.content, nil
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
			cr.dec.Close()
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

// contentReader is the decompressed view of a zstd entry; at the end it
// also drains and checks the stored bytes.
type contentReader struct {
	dec    *zstd.Decoder
	stored *digestReader
	d      *digestReader
}

func (c *contentReader) Read(p []byte) (int, error) {
	n, err := c.d.Read(p)
	if err != nil && err != io.EOF && c.stored.err != nil && c.stored.err != io.EOF {
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

func (c *contentReader) Close() error {
	c.dec.Close()
	return nil
}
