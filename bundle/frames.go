package bundle

import (
	"context"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A zstd entry is written as independent zstd frames: one of its first
// MiB (the probe that decided to compress it, see compressor.scan), then
// one per segmentSize bytes of the rest, so that the frames of one large
// file are compressed on every core at once; a frame that does not reach
// back into the one before costs about 0.6 % of size on executable-like
// content at 4 MiB (0.3 % at 8 MiB, 2.5 % at 1 MiB), and nothing on text. The sequence of frames is
// an ordinary zstd stream: every zstd reader, ferry's of every version
// included, reads it as it reads the single frame earlier versions wrote.
const segmentSize = 4 << 20

// maxFrameEncoders bounds the encoders of a framePool, and with them its
// buffers, on machines with many cores.
const maxFrameEncoders = 8

// newEncoder returns the encoder of zstd entries. Every encoder of entries
// has the same options, so a frame's bytes depend only on its content.
//
// A frame never reaches back beyond its own segment, so the window is the
// segment: the encoder's history is then 8 MiB rather than the default
// 16 MiB, and with lower-memory buffers about 4 MiB, for the same frames.
func newEncoder() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(compressionLevel),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(segmentSize),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err) // only invalid options fail, and these are constant
	}
	return enc
}

// framePool compresses segments of content into zstd frames on a fixed
// set of encoders. Its segments are a fixed set too, taken by the blobs
// being compressed and given back once their frame is written: memory
// stays bounded however many blobs are compressed at once and however
// large they are.
type framePool struct {
	free chan *segment
	work chan *segment
	wg   sync.WaitGroup
}

// segment is one segment of a blob's content and, once done is signalled,
// its frame.
type segment struct {
	in   []byte // room for segmentSize bytes, made on first use
	n    int    // bytes of content in in
	out  []byte // the frame
	done chan struct{}
}

// newFramePool starts one encoder per CPU, up to maxFrameEncoders, with
// two segments more than encoders: one being read and one being written
// while the others are compressed.
func newFramePool() *framePool {
	encoders := min(runtime.GOMAXPROCS(0), maxFrameEncoders)
	p := &framePool{free: make(chan *segment, encoders+2), work: make(chan *segment)}
	for range encoders + 2 {
		p.free <- &segment{done: make(chan struct{}, 1)}
	}
	for range encoders {
		p.wg.Go(func() {
			enc := newEncoder()
			defer enc.Close()
			for s := range p.work {
				s.out = enc.EncodeAll(s.in[:s.n], s.out[:0])
				s.done <- struct{}{}
			}
		})
	}
	return p
}

// close stops the encoders once no blob is being compressed.
func (p *framePool) close() {
	close(p.work)
	p.wg.Wait()
}

// compress reads content from r — head first, then the rest of r — and
// writes its frames to w in order, segment by segment, hashing each
// segment's bytes into content as it is read (head excluded: the caller
// hashed it). Up to every encoder works on one blob while its next segment
// is read and its finished frames are written.
func (p *framePool) compress(ctx context.Context, w io.Writer, head []byte, r io.Reader, content hash.Hash) (int64, error) {
	var queue []*segment // submitted, in content order
	// finish writes the oldest segment's frame, once done, and frees it.
	finish := func() error {
		s := queue[0]
		<-s.done
		queue = queue[1:]
		_, err := w.Write(s.out)
		p.free <- s
		return err
	}
	defer func() {
		for _, s := range queue {
			<-s.done
			p.free <- s
		}
	}()
	var more int64
	for eof := false; !eof; {
		var s *segment
		for s == nil {
			if len(queue) == 0 {
				select {
				case s = <-p.free:
				case <-ctx.Done():
					return more, fmt.Errorf("cancelled: %w", ctx.Err())
				}
				continue
			}
			// Waiting on the oldest frame frees a segment too: no blob
			// waits for segments while holding finished ones.
			select {
			case s = <-p.free:
			case <-queue[0].done:
				queue[0].done <- struct{}{}
				if err := finish(); err != nil {
					return more, err
				}
			}
		}
		if s.in == nil {
			s.in = make([]byte, segmentSize)
		}
		s.n = copy(s.in, head)
		head = head[s.n:]
		m, err := io.ReadFull(r, s.in[s.n:])
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			eof = true
		case err != nil:
			p.free <- s
			return more, err
		}
		content.Write(s.in[s.n : s.n+m])
		more += int64(m)
		s.n += m
		if s.n == 0 { // the content ended with the segment before
			p.free <- s
			continue
		}
		queue = append(queue, s)
		p.work <- s
	}
	for len(queue) > 0 {
		if err := finish(); err != nil {
			return more, err
		}
	}
	return more, nil
}
