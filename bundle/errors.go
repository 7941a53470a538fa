package bundle

import (
	"errors"
	"fmt"
)

// Sentinel errors for every way a bundle can be refused. Callers test them
// with errors.Is; the command line maps each to its own exit code.
var (
	ErrMalformedManifest = errors.New("malformed manifest")
	ErrTooLarge          = errors.New("over the size limit")
	ErrUnexpectedEntry   = errors.New("unexpected entry")
	ErrDuplicateEntry    = errors.New("duplicate entry")
	ErrMisorderedEntry   = errors.New("entry out of order")
	ErrMissingEntry      = errors.New("missing entry")
	ErrForbiddenEntry    = errors.New("forbidden entry type or path")
	ErrDigestMismatch    = errors.New("content does not match the signed digest")
	ErrSizeMismatch      = errors.New("size does not match the signed size")
	ErrTruncated         = errors.New("bundle is truncated")
	ErrTrailingData      = errors.New("data after the end of the bundle")
	ErrInflation         = errors.New("compressed entry inflates past its declared size")
	ErrNotABundle        = errors.New("not a ferry bundle")
	ErrCorruptHeader     = errors.New("damaged tar header")
	// ErrDamagedCompression: the file is in the compressed form and its
	// zstd stream does not decode (a changed byte, or bytes after it).
	ErrDamagedCompression = errors.New("damaged compressed bundle")
	// ErrNewerFormat: the manifest declares a schemaVersion above the one
	// this ferry reads (docs/FORMAT.md, "Format versions"): a newer ferry
	// wrote it, and this one must be upgraded to read it.
	ErrNewerFormat = errors.New("bundle format newer than this ferry reads")
)

// Error is a refusal of a bundle that names the entry it concerns.
type Error struct {
	Kind  error  // one of the sentinel errors above
	Entry string // tar entry name; empty when the bundle as a whole is at fault
	Err   error  // detail, may be nil
}

func newError(kind error, entry string, err error) *Error {
	return &Error{Kind: kind, Entry: entry, Err: err}
}

func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Entry != "" {
		msg = fmt.Sprintf("entry %q: %s", e.Entry, msg)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap lets errors.Is match both the kind and the detail.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// ErrSource marks a build failure in a source (a registry, a file, a chart,
// migrations) rather than in the spec or the output.
var ErrSource = errors.New("source")
