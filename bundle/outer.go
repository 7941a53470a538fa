package bundle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"ferry/internal/atomicfile"
)

// A bundle file is its tar archive, or that archive compressed whole with
// zstd (docs/FORMAT.md section 1.1). The compressed form exists for small
// bundles — updates above all — where tar headers, block padding and the
// manifest's digests are most of the file; a large bundle stays plain, so
// that it is verified at disk speed and read by tar directly. Everything
// that reads a bundle's tar stream goes through TarStream, so either form
// is accepted wherever a bundle is.

// zstdMagic opens every zstd frame (RFC 8878). A plain bundle starts with
// the name of its first entry, manifest.json, so the two forms never
// collide.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Compression says when Build writes the compressed form.
type Compression int

const (
	// CompressNever writes the plain tar archive. It is the zero value:
	// the plain form is the one tar reads directly.
	CompressNever Compression = iota
	// CompressAuto compresses an update bundle whose plain form is at
	// most MaxAutoCompress bytes, when that makes it at least a tenth
	// smaller. It is what `ferry bundle create` does by default.
	CompressAuto
	// CompressAlways compresses whatever the size or the gain.
	CompressAlways
)

// MaxAutoCompress bounds the plain size CompressAuto tries to compress: in
// larger bundles the content, already compressed where that pays, is
// nearly all of the file, and compressing again only slows every reader.
const MaxAutoCompress = 64 << 20

// autoKeepRatio is the most the compressed form may weigh, against the
// plain one, for CompressAuto to keep it.
const autoKeepRatio = 0.90

// outerLevel is the zstd level of the compressed form. Bundles that get
// compressed are small, so a slower, better level costs little.
const outerLevel = zstd.SpeedBetterCompression

// ParseCompression reads the value of `bundle create --compress`.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "never":
		return CompressNever, nil
	case "auto":
		return CompressAuto, nil
	case "always":
		return CompressAlways, nil
	}
	return 0, fmt.Errorf("compression %q: want auto, always or never", s)
}

func (c Compression) String() string {
	switch c {
	case CompressNever:
		return "never"
	case CompressAuto:
		return "auto"
	case CompressAlways:
		return "always"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// tries reports whether a bundle of plain bytes, an update or not, is to
// be compressed at all.
func (c Compression) tries(plain int64, update bool) bool {
	switch c {
	case CompressAlways:
		return true
	case CompressAuto:
		return update && plain <= MaxAutoCompress
	}
	return false
}

// keeps reports whether the compressed form of packed bytes replaces the
// plain one of plain bytes.
func (c Compression) keeps(packed, plain int64) bool {
	return c == CompressAlways || float64(packed) <= autoKeepRatio*float64(plain)
}

// IsCompressed reports whether a bundle file starting with head is in the
// compressed form.
func IsCompressed(head []byte) bool { return bytes.HasPrefix(head, zstdMagic) }

// TarStream returns the tar archive of a bundle given as the bytes of its
// file: those bytes themselves, or their decompression when the file is in
// the compressed form. The decoder's memory is bounded like that of
// compressed entries (MaxDecoderWindow). A decoding failure is an *Error
// of kind ErrDamagedCompression, or ErrTruncated when the stream stops
// early.
func TarStream(r io.Reader) *Unpacker {
	u := &Unpacker{}
	u.src = bufio.NewReader(errRecorder{r: r, err: &u.srcErr})
	return u
}

// errRecorder keeps the last error of a reader, so that the file's own
// errors (a damaged part of a split file) are told apart from the
// decoder's.
type errRecorder struct {
	r   io.Reader
	err *error
}

func (e errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		*e.err = err
	}
	return n, err
}

// Unpacker is the tar stream of a bundle file; see TarStream. It decides
// which form the file is in at its first Read.
type Unpacker struct {
	src        *bufio.Reader
	r          io.Reader // nil until the first Read
	compressed bool
	srcErr     error // the last error of the file's bytes, passed on as it is
}

// Compressed reports whether the file is in the compressed form; it is
// known after the first Read.
func (u *Unpacker) Compressed() bool { return u.compressed }

func (u *Unpacker) Read(p []byte) (int, error) {
	if u.r == nil {
		head, _ := u.src.Peek(len(zstdMagic)) // a short file is the tar reader's to refuse
		u.r = u.src
		if IsCompressed(head) {
			dec, err := NewZstdReader(u.src)
			if err != nil {
				return 0, err
			}
			u.r, u.compressed = dec, true
		}
	}
	n, err := u.r.Read(p)
	if u.compressed && err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, io.ErrUnexpectedEOF) && u.srcErr == nil {
			return n, newError(ErrTruncated, "", fmt.Errorf("the compressed stream ends early"))
		}
		if u.srcErr == nil || !errors.Is(err, u.srcErr) {
			err = newError(ErrDamagedCompression, "", err)
		}
	}
	return n, err
}

// compressFile replaces the plain bundle in p with its compressed form,
// written to a new pending file for out, when c says so; it returns the
// pending file that holds the bundle then (p itself, or the new one with p
// aborted) and whether it is compressed.
func compressFile(p *atomicfile.Pending, plain int64, c Compression, update bool, out string) (*atomicfile.Pending, bool, error) {
	if !c.tries(plain, update) {
		return p, false, nil
	}
	z, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return p, false, err
	}
	enc, err := zstd.NewWriter(z,
		zstd.WithEncoderLevel(outerLevel),
		zstd.WithEncoderConcurrency(1), // one frame sequence, the same on every run
		zstd.WithEncoderCRC(true))
	if err == nil {
		_, err = io.Copy(enc, io.NewSectionReader(p.File(), 0, plain))
		if cerr := enc.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		z.Abort()
		return p, false, fmt.Errorf("compressing the bundle: %w", err)
	}
	packed, err := z.File().Seek(0, io.SeekCurrent)
	if err != nil {
		z.Abort()
		return p, false, err
	}
	if !c.keeps(packed, plain) {
		z.Abort()
		return p, false, nil
	}
	p.Abort()
	return z, true, nil
}
