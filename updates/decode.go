package updates

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"ferry/internal/oci"
)

// Ways a patch fails to apply that a caller tells apart; any other error
// of a Decoder's reader means a damaged patch, or a base that does not
// read.
var (
	// ErrBase: the base cannot serve the patch (too large for a
	// whole-file patch, or it does not read).
	ErrBase = errors.New("patch base")
	// ErrInflation: the patch decodes to more than the content's size.
	ErrInflation = errors.New("the patch decodes past the content's size")
	// ErrSize: the patch decodes to fewer bytes than the content's size.
	ErrSize = errors.New("the patch decodes to another size than the content's")
	// ErrDigest: the patched content does not have the content's digest.
	ErrDigest = errors.New("the patched content does not match its digest")
)

// Decoder applies patches: it decodes a patch against its base and checks
// that the result is the content the patch was made for, Size bytes with
// digest Digest. Its fields describe that content and the patch.
type Decoder struct {
	// Segmented tells a segmented patch (zstd-patch-seg, of StoredSize
	// bytes) from a whole-file one (zstd-patch).
	Segmented  bool
	StoredSize int64
	// Size and Digest ("sha256:<hex>") are the content's.
	Size   int64
	Digest string
}

// Open returns the content of patch applied to base. Memory is bounded
// whatever the size of the content: a whole-file patch reads its base,
// at most MaxPatchBase bytes, into memory; a segmented one reads one
// window of the base at a time. The content is trusted only once it was
// read to io.EOF without error: at its end the reader checks the size and
// the digest. Close releases the decoder; base stays the caller's.
func (d *Decoder) Open(patch io.Reader, base Base) (io.ReadCloser, error) {
	var dec io.Reader
	var release func()
	if d.Segmented {
		sr, err := newSegmentReader(patch, d.Size, d.StoredSize, base, base.Size())
		if err != nil {
			return nil, err
		}
		dec, release = sr, func() { sr.Close() }
	} else {
		if base.Size() > MaxPatchBase {
			return nil, fmt.Errorf("%w of %d bytes is over the %d a zstd-patch may apply to", ErrBase, base.Size(), MaxPatchBase)
		}
		b := make([]byte, base.Size())
		if n, err := base.ReadAt(b, 0); n != len(b) {
			return nil, fmt.Errorf("%w: %w", ErrBase, err)
		}
		zr, err := newWholeReader(patch, b)
		if err != nil {
			return nil, err
		}
		dec, release = zr, zr.Close
	}
	return &verifyingReader{r: io.LimitReader(dec, d.Size+1), release: release, h: sha256.New(), size: d.Size, want: d.Digest}, nil
}

// verifyingReader counts and hashes the decoded content and, at its end,
// compares both with the content's.
type verifyingReader struct {
	r       io.Reader
	release func()
	h       hash.Hash
	n, size int64
	want    string
	err     error // once set, every Read returns it
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case v.n > v.size:
		v.err = fmt.Errorf("%w: more than the %d bytes declared", ErrInflation, v.size)
	case errors.Is(err, io.EOF) && v.n != v.size:
		v.err = fmt.Errorf("%w: %d bytes, %d declared", ErrSize, v.n, v.size)
	case errors.Is(err, io.EOF):
		if got := oci.FromHash(v.h); got.String() != v.want {
			v.err = fmt.Errorf("%w: got %s, want %s", ErrDigest, got, v.want)
		} else {
			v.err = io.EOF
		}
	case err != nil:
		v.err = fmt.Errorf("decoding: %w", err)
	default:
		return n, nil
	}
	return n, v.err
}

// Close releases the decoder; it may be called more than once.
func (v *verifyingReader) Close() error {
	if v.release != nil {
		v.release()
		v.release = nil
	}
	return nil
}
