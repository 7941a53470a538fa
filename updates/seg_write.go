package updates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// ErrTooLarge reports that the patch grew past the Encoder's Limit, the
// size at which it would pay, and was abandoned.
var ErrTooLarge = errors.New("the patch is not smaller than the content as it stands")

// MaxWorkers bounds how many segments are compressed at once. Each holds
// its segment, its base window and an encoder at the best level: about
// 180 MiB more peak memory per worker, measured on a 45 MiB executable,
// for 1.5 times the speed with two (2.0 s instead of 3.0 s).
const MaxWorkers = 4

// Base is the content a patch applies to, read at offsets.
type Base interface {
	io.ReaderAt
	// Size is the content's length in bytes.
	Size() int64
}

// Encoder makes segmented patches (zstd-patch-seg). Its fields are the
// shape of the patches; one Encoder may encode several files, one after
// another or at once.
type Encoder struct {
	// SegmentSize and Margin shape the patch (docs/FORMAT.md, section
	// 2.1.1): SegmentSize within MinSegmentSize to MaxSegmentSize, Margin
	// at most MaxSegmentMargin.
	SegmentSize, Margin int64
	// Workers is how many segments are compressed at once, each holding
	// its segment, its base window and its encoder: at least 1, at most
	// MaxWorkers. The patch is the same for any number.
	Workers int
	// Limit is the longest patch worth having: Encode gives up with
	// ErrTooLarge as soon as the patch is longer.
	Limit int64
}

// Encode writes to out the segmented patch of content, size bytes read in
// order, against base, read at offsets, and returns its length. The
// frames are written in order after the room left for the header, and
// the header last.
//
// A new encoder per segment is faster than one reset with each new
// dictionary: its tables come zeroed rather than cleared.
func (e *Encoder) Encode(ctx context.Context, out io.WriterAt, content io.Reader, size int64, base Base) (int64, error) {
	segSize, margin := e.SegmentSize, e.Margin
	switch {
	case segSize < MinSegmentSize || segSize > MaxSegmentSize:
		return 0, fmt.Errorf("segment size %d is outside %d to %d", segSize, MinSegmentSize, MaxSegmentSize)
	case margin < 0 || margin > MaxSegmentMargin:
		return 0, fmt.Errorf("segment margin %d is outside 0 to %d", margin, MaxSegmentMargin)
	case size < 0:
		return 0, fmt.Errorf("content of %d bytes", size)
	}
	baseSize := base.Size()
	count := SegmentCount(size, segSize)
	if count > MaxSegments {
		return 0, fmt.Errorf("%d segments of %d bytes, more than %d", count, segSize, MaxSegments)
	}
	h := &segHeader{segSize: segSize, margin: margin, frames: make([]int64, count)}
	total := segHeaderLen(int(count))
	if total > e.Limit {
		return 0, ErrTooLarge
	}
	workers := max(1, min(e.Workers, MaxWorkers, int(count)))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Whatever way this returns, the reader and the encoders are done
	// with content, base and their buffers by then.
	defer wg.Wait()
	defer cancel()

	// The reader takes a free job, fills it with the next segment and its
	// base window, queues it and starts its encoder; the loop below takes
	// the jobs from the queue in order and frees them. There are workers
	// jobs, so at most that many segments are in memory.
	free := make(chan *segmentJob, workers)
	for range workers {
		free <- &segmentJob{}
	}
	queue := make(chan *segmentJob, workers)
	wg.Go(func() {
		defer close(queue)
		for i := range h.frames {
			if ctx.Err() != nil {
				return
			}
			var j *segmentJob
			select {
			case j = <-free:
			case <-ctx.Done():
				return
			}
			j.done = make(chan struct{})
			j.err = j.read(content, base, h, i, size, baseSize)
			queue <- j
			if j.err != nil {
				close(j.done)
				return
			}
			wg.Go(func() {
				defer close(j.done)
				j.frame, j.err = encodeSegment(j.frame[:0], j.seg, j.window, h.decoderWindow())
			})
		}
	})

	frames := io.NewOffsetWriter(out, total)
	i := 0
	for j := range queue {
		<-j.done
		if j.err != nil {
			return 0, fmt.Errorf("segment %d: %w", i, j.err)
		}
		if total += int64(len(j.frame)); total > e.Limit {
			return 0, ErrTooLarge
		}
		if _, err := frames.Write(j.frame); err != nil {
			return 0, err
		}
		h.frames[i] = int64(len(j.frame))
		i++
		free <- j
	}
	if i < len(h.frames) {
		return 0, fmt.Errorf("cancelled: %w", ctx.Err())
	}
	if _, err := out.WriteAt(appendSegHeader(nil, h), 0); err != nil {
		return 0, err
	}
	return total, nil
}

// segmentJob is one segment on its way through Encode; its buffers
// are reused for later segments.
type segmentJob struct {
	seg, window, frame []byte
	err                error
	done               chan struct{} // closed when frame or err is set
}

// read fills j with segment i of content, which the reader has read up to
// its start, and the segment's base window.
func (j *segmentJob) read(content io.Reader, base io.ReaderAt, h *segHeader, i int, size, baseSize int64) error {
	n := h.segmentLen(i, size)
	if int64(cap(j.seg)) < n {
		j.seg = make([]byte, n)
	}
	j.seg = j.seg[:n]
	if _, err := io.ReadFull(content, j.seg); err != nil {
		return err
	}
	lo, hi := h.baseWindow(i, baseSize)
	if int64(cap(j.window)) < hi-lo {
		j.window = make([]byte, hi-lo)
	}
	j.window = j.window[:hi-lo]
	if len(j.window) > 0 {
		if k, err := base.ReadAt(j.window, lo); k != len(j.window) {
			return fmt.Errorf("base: reading %d bytes at offset %d: %w", len(j.window), lo, err)
		}
	}
	return nil
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
