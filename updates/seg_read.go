package updates

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// segmentDictID is the dictionary ID of the frames of a segmented patch
// that have a base window; frames without one name no dictionary.
const segmentDictID = 1

// segmentReader applies a segmented patch. It reads the frames from the
// stored bytes in order and decodes each against its window of the base,
// read through ReadAt: memory holds one base window and one segment,
// whatever the size of the file.
type segmentReader struct {
	stored   io.Reader
	base     io.ReaderAt
	baseSize int64
	size     int64 // of the content
	h        *segHeader
	dec      *zstd.Decoder
	window   []byte // the current segment's base window
	peek     [zstd.HeaderMaxSize]byte

	i    int               // the segment being decoded
	rest *io.LimitedReader // its stored bytes after the frame header
	out  *io.LimitedReader // its content; nil between segments
	n    int64             // content bytes of it so far
	err  error
}

// newSegmentReader reads the header of a segmented patch from stored and
// returns the reader of its content, size bytes. storedSize is the length
// of the stored bytes, base the content the patch applies to.
func newSegmentReader(stored io.Reader, size, storedSize int64, base io.ReaderAt, baseSize int64) (*segmentReader, error) {
	h, err := readSegHeader(stored, size, storedSize)
	if err != nil {
		return nil, err
	}
	w := uint64(h.decoderWindow())
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(w),
		zstd.WithDecoderMaxMemory(w))
	if err != nil {
		return nil, err
	}
	return &segmentReader{stored: stored, base: base, baseSize: baseSize, size: size, h: h, dec: dec}, nil
}

func (s *segmentReader) Read(p []byte) (int, error) {
	for s.err == nil {
		if s.out == nil {
			if s.i == len(s.h.frames) {
				s.err = io.EOF
				break
			}
			if err := s.start(); err != nil {
				s.err = fmt.Errorf("segment %d: %w", s.i, err)
				break
			}
		}
		n, err := s.out.Read(p)
		s.n += int64(n)
		want := s.h.segmentLen(s.i, s.size)
		switch {
		case s.n > want:
			s.err = fmt.Errorf("segment %d decodes to more than its %d bytes", s.i, want)
			return n, s.err
		case err == io.EOF && s.n != want:
			s.err = fmt.Errorf("segment %d decodes to %d bytes, not %d", s.i, s.n, want)
			return n, s.err
		case err == io.EOF && s.rest.N != 0:
			s.err = fmt.Errorf("segment %d: %d bytes of its frame were not read", s.i, s.rest.N)
			return n, s.err
		case err == io.EOF:
			s.out = nil
			s.i++
			if n > 0 {
				return n, nil
			}
		case err != nil:
			s.err = fmt.Errorf("segment %d: %w", s.i, err)
			return n, s.err
		default:
			return n, nil
		}
	}
	return 0, s.err
}

// start reads segment s.i's base window and frame header and sets the
// decoder on its frame.
func (s *segmentReader) start() error {
	lo, hi := s.h.baseWindow(s.i, s.baseSize)
	if int64(cap(s.window)) < hi-lo {
		s.window = make([]byte, hi-lo)
	}
	s.window = s.window[:hi-lo]
	if len(s.window) > 0 {
		if n, err := s.base.ReadAt(s.window, lo); n != len(s.window) {
			return fmt.Errorf("patch base: reading %d bytes at offset %d: %w", len(s.window), lo, err)
		}
	}
	frameLen := s.h.frames[s.i]
	peek := s.peek[:min(frameLen, int64(len(s.peek)))]
	if _, err := io.ReadFull(s.stored, peek); err != nil {
		return err
	}
	dictID, err := checkSegmentFrame(s.h, s.i, s.size, peek)
	if err != nil {
		return err
	}
	if hasDict := len(s.window) > 0; hasDict != (dictID == segmentDictID) {
		return fmt.Errorf("the frame names dictionary %d, and the segment's base window has %d bytes", dictID, len(s.window))
	}
	dict := zstd.WithDecoderDictRaw(segmentDictID, s.window)
	if len(s.window) == 0 {
		dict = zstd.WithDecoderDictDelete(segmentDictID)
	}
	s.rest = &io.LimitedReader{R: s.stored, N: frameLen - int64(len(peek))}
	if err := s.dec.ResetWithOptions(io.MultiReader(bytes.NewReader(peek), s.rest), dict); err != nil {
		return err
	}
	s.out = &io.LimitedReader{R: s.dec, N: s.h.segmentLen(s.i, s.size) + 1}
	s.n = 0
	return nil
}

// Close releases the decoder; the base is its owner's to close.
func (s *segmentReader) Close() error {
	s.dec.Close()
	return nil
}

// checkSegmentFrame checks the header of segment i's frame, from its first
// bytes: a zstd frame that declares the segment's content size, names
// the segment dictionary or none, and needs no larger window than the
// segment's. It returns the dictionary ID, which must be the segment's
// when it has a base window and absent otherwise: only the caller knows
// the base's size.
func checkSegmentFrame(h *segHeader, i int, size int64, start []byte) (uint32, error) {
	var fh zstd.Header
	if err := fh.Decode(start); err != nil {
		return 0, fmt.Errorf("frame header: %w", err)
	}
	want := h.segmentLen(i, size)
	switch {
	case fh.Skippable:
		return 0, fmt.Errorf("a skippable frame where the segment's frame should be")
	case !fh.HasFCS || fh.FrameContentSize != uint64(want):
		return 0, fmt.Errorf("the frame does not declare the segment's %d bytes", want)
	case fh.DictionaryID != 0 && fh.DictionaryID != segmentDictID:
		return 0, fmt.Errorf("the frame names dictionary %d, not %d or none", fh.DictionaryID, segmentDictID)
	case !fh.SingleSegment && fh.WindowSize > uint64(h.decoderWindow()):
		return 0, fmt.Errorf("window of %d bytes, more than the %d the segment needs", fh.WindowSize, h.decoderWindow())
	}
	return fh.DictionaryID, nil
}

// CheckSegments reads a segmented patch of content of size bytes, stored
// in storedSize bytes, and checks what can be checked without its base:
// the header and every frame's header.
func CheckSegments(r io.Reader, size, storedSize int64) error {
	h, err := readSegHeader(r, size, storedSize)
	if err != nil {
		return err
	}
	var peek [zstd.HeaderMaxSize]byte
	for i, n := range h.frames {
		start := peek[:min(n, int64(len(peek)))]
		if _, err := io.ReadFull(r, start); err != nil {
			return fmt.Errorf("segment %d: %w", i, err)
		}
		if _, err := checkSegmentFrame(h, i, size, start); err != nil {
			return fmt.Errorf("segment %d: %w", i, err)
		}
		if _, err := io.CopyN(io.Discard, r, n-int64(len(start))); err != nil {
			return fmt.Errorf("segment %d: %w", i, err)
		}
	}
	return nil
}
