package store

import "errors"

// Sentinel errors callers act on, tested with errors.Is. Errors wrap them
// (or the operating system's error, such as ENOSPC) with the digest or
// path they concern.
var (
	// ErrInvalidDigest marks a digest that is not "sha256:" followed by 64
	// lowercase hex digits. Digests become file names, so anything looser
	// could name a file outside blobs/sha256/.
	ErrInvalidDigest = errors.New("invalid digest")

	// ErrDigestMismatch marks content whose SHA-256 is not the digest it
	// was stored under.
	ErrDigestMismatch = errors.New("content does not match its digest")

	// ErrSizeMismatch marks content shorter or longer than its declared size.
	ErrSizeMismatch = errors.New("content does not match its size")

	// ErrNotFound marks a blob that is not in the store.
	ErrNotFound = errors.New("blob not in the store")

	// ErrNotLayout marks a directory that exists but is not an OCI image
	// layout, so the store refuses to write into it.
	ErrNotLayout = errors.New("not an OCI image layout")

	// ErrInvalidRef marks an image name SetRefs refuses: empty, malformed,
	// duplicated, or with a descriptor that cannot be served.
	ErrInvalidRef = errors.New("invalid image reference")
)
