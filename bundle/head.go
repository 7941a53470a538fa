package bundle

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"ferry/verify"
)

// signatureDir is where signature entries live, between the manifest and
// the content.
const signatureDir = "signatures/"

// rotationDir is where key rotation statements live, after the
// signatures.
const rotationDir = "rotations/"

// RotationEntryPath is the entry of the rotation statement with sequence
// number seq.
func RotationEntryPath(seq int) string { return fmt.Sprintf("%s%06d.json", rotationDir, seq) }

// Head is the start of a bundle: the manifest exactly as stored, the
// signatures over it and the key rotation statements that may be needed
// to trust them. Nothing in it is trusted until verified.
type Head struct {
	RawManifest []byte
	Signatures  []verify.Signature
	// Rotations are the rotation statement files, in entry order, and
	// RotationNames their entry names.
	Rotations     [][]byte
	RotationNames []string
	// next is the first header after the signatures (nil at the end).
	next *tar.Header
}

// walker reads a bundle's tar stream entry by entry, checking every header
// and the padding between entries.
type walker struct {
	tr          *tar.Reader
	track       *trackingReader
	file        *Unpacker
	lastDataEnd int64
	current     string
}

// newWalker reads the bundle file r, in either form; progress, when set,
// is told of the file's bytes as they are read.
func newWalker(r io.Reader, progress func(int64)) *walker {
	if progress != nil {
		r = &progressReader{ctx: context.Background(), r: r, report: progress}
	}
	u := TarStream(r)
	t := &trackingReader{r: u}
	return &walker{tr: tar.NewReader(t), track: t, file: u}
}

// next returns the next header, or io.EOF at a well-formed end.
func (w *walker) next() (*tar.Header, error) {
	w.track.expectPadding(w.current)
	hdr, err := w.tr.Next()
	if errors.Is(err, io.EOF) {
		if err := w.track.checkEnd(w.lastDataEnd); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	if errors.Is(err, tar.ErrHeader) && w.current != "" {
		return nil, newError(ErrCorruptHeader, "", fmt.Errorf("the header after entry %q: %w", w.current, err))
	}
	if ferr := w.fileFailure(err); ferr != nil {
		return nil, ferr
	}
	if err != nil {
		where := "" // the first header: no entry to name
		if w.current != "" {
			where = "after " + w.current
		}
		return nil, tarError(err, where)
	}
	if err := checkHeader(hdr); err != nil {
		return nil, err
	}
	w.current = hdr.Name
	return hdr, nil
}

// fileFailure returns err when it is a failure of the file rather than of
// what it holds — a part of a split file missing or damaged, a compressed
// file that stops early or does not decode — so that it is reported as
// such, not as "not a bundle"; nil otherwise. The first header of a
// compressed bundle can come from its second part.
func (w *walker) fileFailure(err error) error {
	switch {
	case errors.Is(err, ErrDamagedPart), errors.Is(err, ErrMissingPart):
		return err
	case w.file.Compressed() && (errors.Is(err, ErrTruncated) || errors.Is(err, ErrDamagedCompression)):
		return err
	}
	return nil
}

// Read reads the current entry's content.
func (w *walker) Read(p []byte) (int, error) {
	n, err := w.tr.Read(p)
	if n > 0 {
		w.lastDataEnd = w.track.n
	}
	return n, err
}

// readHead reads manifest.json and the signature entries that follow it,
// enforcing the caps that apply before any signature is checked.
func readHead(w *walker) (*Head, error) {
	hdr, err := w.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, newError(ErrNotABundle, "", fmt.Errorf("empty archive"))
		}
		if err := w.fileFailure(err); err != nil {
			return nil, err
		}
		return nil, newError(ErrNotABundle, "", fmt.Errorf("not a tar archive: %w", err))
	}
	if err := checkHeader(hdr); err != nil {
		return nil, err
	}
	if hdr.Name != ManifestPath {
		return nil, newError(ErrNotABundle, hdr.Name, fmt.Errorf("the first entry must be %s", ManifestPath))
	}
	if hdr.Size > MaxManifestSize {
		return nil, newError(ErrTooLarge, ManifestPath, fmt.Errorf("%d bytes, more than the %d allowed", hdr.Size, MaxManifestSize))
	}
	raw, err := readEntry(w, hdr)
	if err != nil {
		return nil, err
	}
	h := &Head{RawManifest: raw}
	seen := map[string]bool{}
	for {
		hdr, err := w.next()
		if errors.Is(err, io.EOF) {
			return h, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Name == ManifestPath {
			return nil, newError(ErrDuplicateEntry, hdr.Name, nil)
		}
		if hdr.Name == PaddingPath {
			return h, readPadding(w, h, hdr)
		}
		if seen[hdr.Name] {
			return nil, newError(ErrDuplicateEntry, hdr.Name, nil)
		}
		seen[hdr.Name] = true
		if strings.HasPrefix(hdr.Name, rotationDir) {
			if err := readRotation(w, h, hdr); err != nil {
				return nil, err
			}
			continue
		}
		if !strings.HasPrefix(hdr.Name, signatureDir) {
			h.next = hdr
			return h, nil
		}
		if len(h.Rotations) > 0 {
			return nil, newError(ErrUnexpectedEntry, hdr.Name, fmt.Errorf("a signature after the rotation statements"))
		}
		if len(h.Signatures) >= MaxSignatures {
			return nil, newError(ErrTooLarge, hdr.Name, fmt.Errorf("more than %d signatures", MaxSignatures))
		}
		if hdr.Size > verify.MaxSignatureSize {
			return nil, newError(ErrTooLarge, hdr.Name, fmt.Errorf("%d bytes, more than the %d allowed for a signature", hdr.Size, verify.MaxSignatureSize))
		}
		id, typ, err := verify.ParseSignatureName(hdr.Name)
		if err != nil {
			return nil, newError(ErrUnexpectedEntry, hdr.Name, err)
		}
		data, err := readEntry(w, hdr)
		if err != nil {
			return nil, err
		}
		h.Signatures = append(h.Signatures, verify.Signature{KeyID: id, Type: typ, Data: data})
	}
}

// readRotation reads one rotation statement entry into h, within the caps
// that apply before any signature is checked; what it says is checked
// when the statements are walked.
func readRotation(w *walker, h *Head, hdr *tar.Header) error {
	if len(h.Rotations) >= verify.MaxRotations {
		return newError(ErrTooLarge, hdr.Name, fmt.Errorf("more than %d rotation statements", verify.MaxRotations))
	}
	if hdr.Size > verify.MaxRotationSize {
		return newError(ErrTooLarge, hdr.Name, fmt.Errorf("%d bytes, more than the %d allowed for a rotation statement", hdr.Size, verify.MaxRotationSize))
	}
	if n := len(h.RotationNames); n > 0 && h.RotationNames[n-1] >= hdr.Name {
		return newError(ErrUnexpectedEntry, hdr.Name, fmt.Errorf("rotation statements must be in order of their names"))
	}
	data, err := readEntry(w, hdr)
	if err != nil {
		return err
	}
	h.Rotations = append(h.Rotations, data)
	h.RotationNames = append(h.RotationNames, hdr.Name)
	return nil
}

// readEntry reads a small entry whole; its size was capped by the caller.
func readEntry(w *walker, hdr *tar.Header) ([]byte, error) {
	buf := make([]byte, hdr.Size)
	if _, err := io.ReadFull(w, buf); err != nil {
		return nil, tarError(err, hdr.Name)
	}
	return buf, nil
}

// allowedPAX are the PAX records a bundle entry may carry: those whose
// value ferry checks against the manifest. PAX data is not covered by the
// header checksum, so any other record (times, owners, sparse maps,
// extended attributes) could change unnoticed, and is refused.
var allowedPAX = map[string]bool{"path": true, "size": true}

// checkHeader refuses every entry that is not a plain regular file with a
// clean relative name: links, devices, directories, absolute and ".."
// paths, odd PAX records.
func checkHeader(hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeLink, tar.TypeSymlink:
		return newError(ErrForbiddenEntry, hdr.Name, fmt.Errorf("a link (to %q)", hdr.Linkname))
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return newError(ErrForbiddenEntry, hdr.Name, fmt.Errorf("a device or fifo"))
	case tar.TypeDir:
		return newError(ErrForbiddenEntry, hdr.Name, fmt.Errorf("a directory"))
	default:
		return newError(ErrForbiddenEntry, hdr.Name, fmt.Errorf("entry type %q", hdr.Typeflag))
	}
	name := hdr.Name
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
		return newError(ErrForbiddenEntry, name, fmt.Errorf("path must be relative and clean"))
	}
	for k := range hdr.PAXRecords {
		if !allowedPAX[k] {
			return newError(ErrForbiddenEntry, name, fmt.Errorf("PAX record %q", k))
		}
	}
	if hdr.Format&tar.FormatGNU != 0 {
		return newError(ErrForbiddenEntry, name, fmt.Errorf("GNU tar extensions"))
	}
	if hdr.Size < 0 || hdr.Size > MaxBlobSize {
		return newError(ErrTooLarge, name, fmt.Errorf("size %d", hdr.Size))
	}
	return nil
}

// tarError classifies an error of the tar reader: a stream that ends early
// is truncated, anything else is a malformed archive.
func tarError(err error, entry string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return newError(ErrTruncated, entry, err)
	}
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	return newError(ErrNotABundle, entry, err)
}

// readPadding checks the padding entry that may follow the signatures (see
// PaddingPath): bounded, all zero bytes, and not repeated. It leaves the
// header after it in h.next.
func readPadding(w *walker, h *Head, hdr *tar.Header) error {
	if hdr.Size > MaxManifestSize {
		return newError(ErrTooLarge, hdr.Name, fmt.Errorf("%d bytes of padding, more than the %d allowed", hdr.Size, MaxManifestSize))
	}
	buf := make([]byte, min(hdr.Size, 64<<10))
	for remaining := hdr.Size; remaining > 0; {
		n := min(remaining, int64(len(buf)))
		if _, err := io.ReadFull(w, buf[:n]); err != nil {
			return tarError(err, hdr.Name)
		}
		for _, b := range buf[:n] {
			if b != 0 {
				return newError(ErrDigestMismatch, hdr.Name, fmt.Errorf("padding must be zero bytes"))
			}
		}
		remaining -= n
	}
	next, err := w.next()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	if next.Name == PaddingPath || next.Name == ManifestPath || strings.HasPrefix(next.Name, signatureDir) || strings.HasPrefix(next.Name, rotationDir) {
		return newError(ErrMisorderedEntry, next.Name, fmt.Errorf("only content may follow the padding"))
	}
	h.next = next
	return nil
}
