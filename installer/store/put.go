package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"ferry/internal/oci"
)

// Put streams r into the store as the blob with digest and size.
//
// The content goes to a temporary file in blobs/sha256/, hashed as it
// streams, and becomes the blob only by rename once its digest and size
// are proven and it is fsync'd, so a blob file is never partial or wrong,
// and a reader of the layout never sees one being written. At most size+1
// bytes are read from r: enough to tell that a stream is too long without
// reading all of it. On a mismatch the temporary file is removed and the
// error wraps ErrDigestMismatch or ErrSizeMismatch.
//
// If the blob is already stored, Put does not read r and returns false. A
// stored file of the wrong size is damaged (its digest cannot hold), so Put
// writes the blob afresh over it. Concurrent Puts of one digest are safe:
// each writes its own temporary file and renames identical content into
// place.
func (s *Store) Put(digest string, size int64, r io.Reader) (written bool, err error) {
	want, err := parseDigest(digest)
	if err != nil {
		return false, err
	}
	if size < 0 {
		return false, fmt.Errorf("store blob %s: %w: negative size %d", digest, ErrSizeMismatch, size)
	}
	final := filepath.Join(s.blobDir(), want)
	exists, err := s.stored(final, size)
	if err != nil {
		return false, fmt.Errorf("store blob %s: %w", digest, err)
	}
	if exists {
		return false, nil
	}

	p, err := createTemp(s.blobDir(), want)
	if err != nil {
		return false, fmt.Errorf("store blob %s: %w", digest, err)
	}
	defer p.Abort()
	if err := copyVerified(p, r, want, size); err != nil {
		return false, fmt.Errorf("store blob %s: %w", digest, err)
	}
	if err := p.Commit(); err != nil {
		return false, fmt.Errorf("store blob %s: %w", digest, err)
	}
	return true, nil
}

// stored reports whether a blob file of the given size is at path. Only
// the size is compared: re-hashing every blob on every Put would cost a
// full read, and Check is there for content that changed on disk.
func (s *Store) stored(path string, size int64) (bool, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	return fi.Size() == size, nil
}

// copyVerified copies r to w, reading at most size+1 bytes, and checks
// that exactly size bytes with SHA-256 wantHex arrived.
func copyVerified(w io.Writer, r io.Reader, wantHex string, size int64) error {
	limit := size + 1
	if size == math.MaxInt64 {
		limit = size
	}
	// The limit stops reading content that is too long before its end,
	// where the digest is checked, so a wrong size is told as such.
	v := oci.NewVerifyingReader(sourceReader{r}, oci.FromHex(wantHex))
	n, err := io.Copy(w, io.LimitReader(v, limit))
	mismatch := errors.Is(err, oci.ErrDigestMismatch)
	if err != nil && !mismatch {
		return err
	}
	switch {
	case n > size:
		return fmt.Errorf("%w: the content is longer than %d bytes", ErrSizeMismatch, size)
	case n < size:
		return fmt.Errorf("%w: the content is %d bytes, want %d", ErrSizeMismatch, n, size)
	case mismatch:
		return fmt.Errorf("%w: the content hashes to %s", ErrDigestMismatch, v.Digest())
	}
	return nil
}

// sourceReader marks errors of the stream being stored, so that they are
// told apart from errors writing to the store (such as a full disk).
type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("read content: %w", err)
	}
	return n, err
}
