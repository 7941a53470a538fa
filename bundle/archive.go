package bundle

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Archive is a bundle on disk, whichever form it travels in: a plain bundle
// file, an installer carrying it (read in place, never copied), or parts
// of a split file, checked part by part and read as one. Every reader of a
// bundle given by path goes through OpenArchive, so each form is accepted
// wherever a bundle is.
//
// Archive reads sequentially from the first byte of the bundle (Read) and at
// any offset in it (ReadAt); ReadAt is safe for concurrent use, Read is not.
type Archive struct {
	path    string
	r       *io.SectionReader // the bundle bytes, for Read
	closer  io.Closer
	payload *Payload // set for an installer
	parts   []string // set for a split file
}

// OpenArchive opens the bundle at path:
//   - NAME.part000: the parts of a split file, found next to it with their
//     checksum list (see SplitFile); a missing part is an error here, a
//     damaged one when it is first read.
//   - a file ending in an installer trailer: the bundle inside it, once the
//     trailer, the embedded keys and the bundle's manifest digest match
//     (see ReadPayload). Split installers work too.
//   - an executable without a trailer: ErrNotInstaller, or
//     ErrDamagedInstaller when an installer's payload follows it (the
//     file was cut short or has bytes appended).
//   - anything else: a plain bundle, which the reader then checks.
func OpenArchive(path string) (*Archive, error) {
	var (
		src    io.ReaderAt
		size   int64
		closer io.Closer
		parts  []string
	)
	if _, isPart, err := firstPartBase(path); err != nil {
		return nil, err
	} else if isPart {
		ps, err := openParts(path)
		if err != nil {
			return nil, err
		}
		// The head of the bundle is in the first part: check it now so
		// that a damaged first part is reported as such, not as a
		// malformed bundle.
		if err := ps.check(0); err != nil {
			ps.Close()
			return nil, err
		}
		src, size, closer, parts = ps, ps.Size(), ps, ps.names
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if size, err = fileSize(f); err != nil {
			f.Close()
			return nil, err
		}
		src, closer = f, f
	}

	a := &Archive{path: path, r: io.NewSectionReader(src, 0, size), closer: closer, parts: parts}
	if size >= TrailerSize {
		tail := make([]byte, TrailerSize)
		if _, err := src.ReadAt(tail, size-TrailerSize); err != nil {
			closer.Close()
			return nil, err
		}
		if hasTrailerMagic(tail) {
			p, err := ReadPayload(src, size)
			if err != nil {
				closer.Close()
				return nil, err
			}
			a.payload = p
			a.r = io.NewSectionReader(src, p.BundleOffset, p.BundleLength)
			return a, nil
		}
	}
	head := make([]byte, 4)
	if n, _ := src.ReadAt(head, 0); isExecutable(head[:n]) {
		err := diagnoseExecutable(src, size)
		closer.Close()
		return nil, err
	}
	return a, nil
}

// Read reads the bundle sequentially from its first byte.
func (a *Archive) Read(p []byte) (int, error) { return a.r.Read(p) }

// ReadAt reads the bundle at offset off (from the bundle's first byte).
func (a *Archive) ReadAt(p []byte, off int64) (int, error) { return a.r.ReadAt(p, off) }

// Size returns the size of the bundle, not of the file holding it.
func (a *Archive) Size() int64 { return a.r.Size() }

// Close closes the underlying file or parts.
func (a *Archive) Close() error { return a.closer.Close() }

// Payload returns what an installer carries (its trailer and embedded
// keys), or nil when the bundle is not in an installer.
func (a *Archive) Payload() *Payload { return a.payload }

// Parts returns the paths of the parts, or nil when the file is whole.
func (a *Archive) Parts() []string { return a.parts }

// String describes what the file is, for messages.
func (a *Archive) String() string {
	what := a.path
	if n := len(a.parts); n > 0 {
		what = fmt.Sprintf("%s (%d parts, %s to %s)", a.path, n, filepath.Base(a.parts[0]), filepath.Base(a.parts[n-1]))
	}
	if a.payload != nil {
		return fmt.Sprintf("installer %s carrying bundle %s (%d bytes at byte %d)", what, a.payload.ManifestDigest, a.payload.BundleLength, a.payload.BundleOffset)
	}
	return "bundle " + what
}

// InspectFile inspects the bundle at path, in any form OpenArchive accepts.
func InspectFile(path string) (*Inspection, error) {
	f, err := OpenArchive(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Inspect(f)
}
