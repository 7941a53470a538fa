package oci

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrDigestMismatch marks content whose digest is not the one expected.
var ErrDigestMismatch = errors.New("digest mismatch")

// VerifyingReader hashes what is read through it and, at the end of the
// content, compares the digest with the one expected: the Read that would
// return io.EOF returns an error wrapping ErrDigestMismatch instead when
// they differ. A reader of untrusted content therefore cannot mistake a
// substituted stream for the real one by reading it to the end.
type VerifyingReader struct {
	r    io.Reader
	h    hash.Hash
	want Digest
	n    int64
}

// NewVerifyingReader returns a reader of r that checks r's content has
// digest want.
func NewVerifyingReader(r io.Reader, want Digest) *VerifyingReader {
	return &VerifyingReader{r: r, h: sha256.New(), want: want}
}

func (v *VerifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if got := FromHash(v.h); got != v.want {
			return n, fmt.Errorf("%w: the content (%d bytes) hashes to %s, want %s", ErrDigestMismatch, v.n, got, v.want)
		}
	}
	return n, err
}

// Digest returns the digest of what has been read so far.
func (v *VerifyingReader) Digest() Digest { return FromHash(v.h) }

// N returns how many bytes have been read.
func (v *VerifyingReader) N() int64 { return v.n }
