package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"testing"
)

// framesContent is compressible content of n bytes, different for each
// seed: numbered log lines.
func framesContent(seed, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d-%08d level=info msg=\"request served\" path=/api/v1/items/%d status=200 bytes=%d\n", seed, i, i*7919%100003, i*31%4096)
	}
	return b.Bytes()[:n]
}

// wantFrames is what a zstd entry of content must be: one frame per
// segment, each compressed on its own by an encoder of the entries'
// options, in order.
func wantFrames(content []byte) []byte {
	enc := newEncoder()
	defer enc.Close()
	var out []byte
	for i := 0; i < len(content); i += segmentSize {
		out = append(out, enc.EncodeAll(content[i:min(i+segmentSize, len(content))], nil)...)
	}
	return out
}

// TestFramePoolFrames: a blob is compressed into independent frames of
// segmentSize bytes of content, in order, whatever the head, and the
// frames decode to the content as one zstd stream; the content is hashed
// on the way. Run with several blobs at once on one pool, so that they
// compete for its segments.
func TestFramePoolFrames(t *testing.T) {
	p := newFramePool()
	defer p.close()
	sizes := []int{1000, probeSize, segmentSize, 2 * segmentSize, 3*segmentSize + 12345}
	var wg sync.WaitGroup
	for i, n := range sizes {
		wg.Go(func() {
			content := framesContent(i, n)
			head := content[:min(probeSize, n)]
			var out bytes.Buffer
			h := sha256.New()
			h.Write(head)
			more, err := p.compress(context.Background(), &out, head, bytes.NewReader(content[len(head):]), h)
			if err != nil {
				t.Errorf("%d bytes: %v", n, err)
				return
			}
			if more != int64(n-len(head)) {
				t.Errorf("%d bytes: read %d after the head, want %d", n, more, n-len(head))
			}
			if sum := sha256.Sum256(content); !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Errorf("%d bytes: content hashed wrong", n)
			}
			if !bytes.Equal(out.Bytes(), wantFrames(content)) {
				t.Errorf("%d bytes: the frames are not one per segment, in order", n)
			}
			dec, err := NewZstdReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Error(err)
				return
			}
			defer dec.Close()
			got, err := io.ReadAll(dec)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("%d bytes: decoded %d bytes (%v), not the content", n, len(got), err)
			}
		})
	}
	wg.Wait()
}

// TestFramePoolCancel: a cancelled build stops compressing, and the
// segments a blob held return to the pool.
func TestFramePoolCancel(t *testing.T) {
	p := newFramePool()
	defer p.close()
	content := framesContent(0, 4*segmentSize)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &progressReader{ctx: ctx, r: bytes.NewReader(content), report: func(int64) {}}
	if _, err := p.compress(ctx, io.Discard, nil, r, sha256.New()); err == nil {
		t.Fatal("a cancelled compression succeeded")
	}
	if len(p.free) != cap(p.free) {
		t.Fatalf("%d of %d segments returned to the pool", len(p.free), cap(p.free))
	}
}
