package bundle

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// compressionLevel trades build time for size. zstd's default level is
// close to `zstd -3`, the plain pipeline ferry is measured against.
const compressionLevel = zstd.SpeedDefault

// Compression pays when the first probeSize bytes shrink below
// probeRatio of their size, and is kept only when the whole blob shrinks
// below keepRatio. Already-compressed data (image layers, archives) is thus
// detected after one chunk and stored raw without further work.
const (
	probeSize  = 1 << 20
	probeRatio = 0.90
	keepRatio  = 0.95
	// minCompress is the size below which compression is never worth the
	// entry-name change.
	minCompress = 512
)

// compressor hashes and compresses blobs; each worker owns one, so its
// probing encoder is reused without locking. The frames of a blob that
// compresses are made by frames, which the workers share.
type compressor struct {
	enc    *zstd.Encoder
	frames *framePool
	probe  []byte
	buf    []byte
}

func newCompressor(frames *framePool) *compressor {
	return &compressor{enc: newEncoder(), frames: frames, probe: make([]byte, probeSize), buf: make([]byte, chunkSize)}
}

func (c *compressor) close() { c.enc.Close() }

// scan reads a blob once: it fills in the content digest and size, and
// either leaves the blob raw or, when compress is set, writes its zstd
// form to the staging directory if that pays.
func (c *compressor) scan(ctx context.Context, bl *blob, staging string, compress bool, report func(int64)) error {
	rc, err := bl.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, c.probe)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	whole := n < probeSize // the blob ends within the probe
	head := c.probe[:n]
	report(int64(n))
	content := sha256.New()
	content.Write(head)
	rest := &progressReader{ctx: ctx, r: rc, report: report}

	var probed []byte
	if compress && n >= minCompress {
		probed = c.enc.EncodeAll(head, c.buf[:0])
	}
	if probed == nil || float64(len(probed)) > probeRatio*float64(n) {
		more, err := io.CopyBuffer(content, rest, c.buf)
		if err != nil {
			return err
		}
		bl.digest, bl.size = digestOf(content), int64(n)+more
		bl.encoding, bl.stored, bl.storedLen = EncodingRaw, bl.digest, bl.size
		return nil
	}

	f, err := os.CreateTemp(staging, "blob-*.zst")
	if err != nil {
		return err
	}
	defer f.Close()
	stored := sha256.New()
	sw := &countWriter{w: io.MultiWriter(f, stored)}
	// The probe's frame is the blob's first frame, so that the probe's
	// work is not done twice: the rest follows in frames of segmentSize.
	if _, err := sw.Write(probed); err != nil {
		return err
	}
	var more int64
	if !whole {
		if more, err = c.frames.compress(ctx, sw, nil, rest, content); err != nil {
			return err
		}
	}
	bl.digest, bl.size = digestOf(content), int64(n)+more
	if float64(sw.n) > keepRatio*float64(bl.size) {
		f.Close()
		os.Remove(f.Name())
		bl.encoding, bl.stored, bl.storedLen = EncodingRaw, bl.digest, bl.size
		return nil
	}
	bl.encoding, bl.stored, bl.storedLen, bl.staged = EncodingZstd, digestOf(stored), sw.n, f.Name()
	return nil
}

// progressReader reports bytes read and stops when the context ends.
type progressReader struct {
	ctx    context.Context
	r      io.Reader
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, fmt.Errorf("cancelled: %w", err)
	}
	n, err := p.r.Read(b)
	if n > 0 {
		p.report(int64(n))
	}
	return n, err
}
