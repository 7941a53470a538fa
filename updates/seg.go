package updates

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A segmented patch (encoding zstd-patch-seg) carries a changed file that
// is too large, or whose base is too large, to patch whole: the file is cut
// into segments of a fixed size, and segment i is one zstd frame
// compressed with, as raw dictionary, the base's bytes at the same offset
// widened by a margin on each side:
//
//	base[i*size - margin, (i+1)*size + margin), clipped to the base
//
// Applying it holds one segment and one base window at a time, whatever
// the size of the file. The stored bytes start with a header, itself a
// zstd skippable frame so that the whole remains a sequence of zstd frames,
// giving the segment size, the margin and each frame's length
// (docs/FORMAT.md, section 2.1.1).
const (
	// DefaultSegmentSize and DefaultSegmentMargin are what a bundle's
	// builder uses: a margin covers code that moved by up to a MiB.
	DefaultSegmentSize   = 8 << 20
	DefaultSegmentMargin = 1 << 20

	// Bounds a reader enforces on the header before it allocates
	// anything: they cap the base window (size + 2*margin), the decoder
	// window and the header itself.
	MinSegmentSize   = 4 << 10
	MaxSegmentSize   = 16 << 20
	MaxSegmentMargin = 4 << 20
	MaxSegments      = 1 << 16
)

// segMagic opens the skippable frame that holds the header: zstd readers
// skip frames with magic 0x184D2A50 to 0x184D2A5F.
const segMagic = 0x184D2A5F

// segTag and segVersion identify ferry's header within that frame.
const (
	segTag     = "ferryseg"
	segVersion = 1
)

// segFixedLen is the header up to the segment lengths: skippable frame
// magic and size, tag, version, segment size, margin and count.
const segFixedLen = 4 + 4 + len(segTag) + 4 + 4 + 4 + 4

// segHeader is the parsed header of a segmented patch.
type segHeader struct {
	segSize int64
	margin  int64
	// frames are the stored lengths of the segments' zstd frames.
	frames []int64
}

// segHeaderLen is the length of the header of a patch of count segments.
func segHeaderLen(count int) int64 { return int64(segFixedLen + 4*count) }

// SegmentCount is how many segments of segSize bytes cut content of size
// bytes.
func SegmentCount(size, segSize int64) int64 { return (size + segSize - 1) / segSize }

// segmentLen is the content length of segment i of content of size bytes.
func (h *segHeader) segmentLen(i int, size int64) int64 {
	return min(h.segSize, size-int64(i)*h.segSize)
}

// baseWindow is the range of the base that segment i is compressed
// against: [lo, hi), empty when the base ends before it.
func (h *segHeader) baseWindow(i int, baseSize int64) (lo, hi int64) {
	lo = max(0, int64(i)*h.segSize-h.margin)
	hi = min(baseSize, int64(i+1)*h.segSize+h.margin)
	return lo, max(lo, hi)
}

// decoderWindow is the zstd window a segment needs: its frame reaches back
// over the whole base window.
func (h *segHeader) decoderWindow() int {
	return patchWindow(int(h.segSize+2*h.margin), int(h.segSize))
}

// maxFrameLen bounds the stored length of one segment's frame: zstd never
// needs more than its content in raw blocks plus the headers of the blocks
// and the frame.
func maxFrameLen(segLen int64) int64 { return segLen + segLen/1024 + 256 }

// appendSegHeader encodes h.
func appendSegHeader(b []byte, h *segHeader) []byte {
	b = binary.LittleEndian.AppendUint32(b, segMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(segHeaderLen(len(h.frames))-8))
	b = append(b, segTag...)
	b = binary.LittleEndian.AppendUint32(b, segVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(h.segSize))
	b = binary.LittleEndian.AppendUint32(b, uint32(h.margin))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.frames)))
	for _, n := range h.frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	return b
}

// errSegHeader marks a header that breaks the format's rules.
var errSegHeader = errors.New("segmented patch header")

// readSegHeader reads and checks the header of a segmented patch of
// content of size bytes stored in storedSize bytes. The header is
// untrusted: every field is bounded before it is used, and the frames must
// account for exactly the stored bytes after it.
func readSegHeader(r io.Reader, size, storedSize int64) (*segHeader, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errSegHeader, fmt.Sprintf(format, args...))
	}
	var fixed [segFixedLen]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, bad("reading the first %d bytes: %v", segFixedLen, err)
	}
	le := binary.LittleEndian
	if le.Uint32(fixed[0:]) != segMagic || string(fixed[8:8+len(segTag)]) != segTag {
		return nil, bad("not a segmented patch (magic %x)", fixed[:16])
	}
	p := fixed[8+len(segTag):]
	version, segSize, margin, count := le.Uint32(p[0:]), int64(le.Uint32(p[4:])), int64(le.Uint32(p[8:])), int64(le.Uint32(p[12:]))
	switch {
	case version != segVersion:
		return nil, bad("version %d, this ferry reads %d", version, segVersion)
	case segSize < MinSegmentSize || segSize > MaxSegmentSize:
		return nil, bad("segment size %d is outside %d to %d", segSize, MinSegmentSize, MaxSegmentSize)
	case margin > MaxSegmentMargin:
		return nil, bad("margin %d is over %d", margin, MaxSegmentMargin)
	case count > MaxSegments:
		return nil, bad("%d segments, more than %d", count, MaxSegments)
	case size < 0 || count != SegmentCount(size, segSize):
		return nil, bad("%d segments of %d bytes for content of %d bytes", count, segSize, size)
	case int64(le.Uint32(fixed[4:])) != segHeaderLen(int(count))-8:
		return nil, bad("skippable frame of %d bytes, want %d", le.Uint32(fixed[4:]), segHeaderLen(int(count))-8)
	case storedSize < segHeaderLen(int(count)):
		return nil, bad("%d stored bytes cannot hold a header of %d", storedSize, segHeaderLen(int(count)))
	}
	lens := make([]byte, 4*count)
	if _, err := io.ReadFull(r, lens); err != nil {
		return nil, bad("reading %d frame lengths: %v", count, err)
	}
	h := &segHeader{segSize: segSize, margin: margin, frames: make([]int64, count)}
	rest := storedSize - segHeaderLen(int(count))
	for i := range h.frames {
		n := int64(le.Uint32(lens[4*i:]))
		if n == 0 || n > maxFrameLen(h.segmentLen(i, size)) {
			return nil, bad("segment %d: frame of %d bytes for %d bytes of content", i, n, h.segmentLen(i, size))
		}
		if n > rest {
			return nil, bad("segment %d: the frames are longer than the %d stored bytes", i, storedSize)
		}
		rest -= n
		h.frames[i] = n
	}
	if rest != 0 {
		return nil, bad("%d stored bytes follow the last frame", rest)
	}
	return h, nil
}
