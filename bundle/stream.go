package bundle

import (
	"fmt"
	"io"
)

// blockSize is the tar block size: entries start on block boundaries and
// the archive ends with two zero blocks.
const blockSize = 512

// maxEndPadding bounds the zero bytes allowed after the end-of-archive
// marker (tar tools pad archives to a record of 20 blocks).
const maxEndPadding = 20 * blockSize

// trackingReader counts the bytes a tar reader consumes and checks that the
// padding between entries is zero. archive/tar skips padding without looking
// at it, and a changed byte anywhere in a bundle must be refused.
type trackingReader struct {
	r        io.Reader
	n        int64 // bytes consumed so far
	zeroTo   int64 // bytes before this offset (from zeroFrom) must be zero
	zeroFrom int64
	entry    string // the entry whose padding is being read, for errors
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		start := t.n
		t.n += int64(n)
		if t.zeroTo > start && t.zeroFrom < t.n {
			lo := max(t.zeroFrom, start) - start
			hi := min(t.zeroTo, t.n) - start
			for _, b := range p[lo:hi] {
				if b != 0 {
					return n, newError(ErrDigestMismatch, t.entry, fmt.Errorf("non-zero byte in the padding after the entry"))
				}
			}
		}
	}
	return n, err
}

// expectPadding marks the bytes from the current offset to the next block
// boundary as padding that must be zero.
func (t *trackingReader) expectPadding(entry string) {
	t.zeroFrom = t.n
	t.zeroTo = roundBlock(t.n)
	t.entry = entry
}

func roundBlock(n int64) int64 {
	return (n + blockSize - 1) / blockSize * blockSize
}

// checkEnd is called once the tar reader reports the end: the archive must
// end with its two zero blocks, and anything after them may only be zero
// padding of bounded length.
func (t *trackingReader) checkEnd(lastDataEnd int64) error {
	if t.n < roundBlock(lastDataEnd)+2*blockSize {
		return newError(ErrTruncated, "", fmt.Errorf("the end-of-archive marker is missing"))
	}
	buf := make([]byte, 4096)
	var extra int64
	for {
		n, err := t.r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return newError(ErrTrailingData, "", fmt.Errorf("non-zero bytes after the end-of-archive marker"))
			}
		}
		extra += int64(n)
		if extra > maxEndPadding {
			return newError(ErrTrailingData, "", fmt.Errorf("more than %d bytes after the end-of-archive marker", maxEndPadding))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the end of the bundle: %w", err)
		}
	}
}
