package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// errPatchTooLarge: the patch grew past the size at which it would pay,
// and was abandoned.
var errPatchTooLarge = errors.New("the patch is not smaller than the content as it stands")

// encodeSegments writes to out the segmented patch of content, size bytes
// read in order, against base, baseSize bytes read at offsets, and returns
// its length. It holds one segment, one base window and one encoder at a
// time. It gives up with errPatchTooLarge as soon as the patch is longer
// than limit.
//
// A new encoder per segment is faster than one reset with each new
// dictionary: its tables come zeroed rather than cleared.
func encodeSegments(ctx context.Context, out io.WriterAt, content io.Reader, size int64, base io.ReaderAt, baseSize, segSize, margin, limit int64) (int64, error) {
	count := segmentCount(size, segSize)
	if count > MaxSegments {
		return 0, fmt.Errorf("%d segments of %d bytes, more than %d", count, segSize, MaxSegments)
	}
	h := &segHeader{segSize: segSize, margin: margin, frames: make([]int64, count)}
	total := segHeaderLen(int(count))
	if total > limit {
		return 0, errPatchTooLarge
	}
	frames := io.NewOffsetWriter(out, total)
	seg := make([]byte, min(segSize, size))
	var window, frame []byte
	for i := range h.frames {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("cancelled: %w", err)
		}
		n := h.segmentLen(i, size)
		if _, err := io.ReadFull(content, seg[:n]); err != nil {
			return 0, fmt.Errorf("segment %d: %w", i, err)
		}
		lo, hi := h.baseWindow(i, baseSize)
		if int64(cap(window)) < hi-lo {
			window = make([]byte, hi-lo)
		}
		window = window[:hi-lo]
		if len(window) > 0 {
			if k, err := base.ReadAt(window, lo); k != len(window) {
				return 0, fmt.Errorf("segment %d: base: reading %d bytes at offset %d: %w", i, len(window), lo, err)
			}
		}
		var err error
		if frame, err = encodeSegment(frame[:0], seg[:n], window, h.decoderWindow()); err != nil {
			return 0, fmt.Errorf("segment %d: %w", i, err)
		}
		if total += int64(len(frame)); total > limit {
			return 0, errPatchTooLarge
		}
		if _, err := frames.Write(frame); err != nil {
			return 0, err
		}
		h.frames[i] = int64(len(frame))
	}
	if _, err := out.WriteAt(appendSegHeader(nil, h), 0); err != nil {
		return 0, err
	}
	return total, nil
}

// encodeSegment appends to dst one segment's frame: seg compressed at the
// patch level with window, the segment's base bytes, as raw dictionary.
// The frame is a single segment, which always declares its content size
// and asks the decoder for no more history than the content: matches
// reach into the dictionary beyond it.
func encodeSegment(dst, seg, window []byte, windowSize int) ([]byte, error) {
	opts := []zstd.EOption{
		zstd.WithEncoderLevel(patchLevel),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(windowSize),
		zstd.WithSingleSegment(true),
	}
	if len(window) > 0 {
		opts = append(opts, zstd.WithEncoderDictRaw(segmentDictID, window))
	}
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(seg, dst), nil
}
