package updates

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"

	"github.com/klauspost/compress/zstd"
)

// MaxPatchBase bounds the content a zstd-patch may apply to, and the
// content it produces: the decoder keeps both in memory, and memory must
// not grow with bundle size. Larger changed files travel as segmented
// patches (zstd-patch-seg), or zstd-compressed when that is smaller.
const MaxPatchBase = 16 << 20

// patchLevel is the zstd level of patches: they are small, and built once
// for many hosts, so the slowest level pays.
const patchLevel = zstd.SpeedBestCompression

// patchWindow is the zstd window a patch of content against base needs:
// it must reach back over the whole base.
func patchWindow(baseLen, contentLen int) int {
	n := baseLen + contentLen
	if n < zstd.MinWindowSize {
		return zstd.MinWindowSize
	}
	return 1 << bits.Len(uint(n-1))
}

// WholeEncoder makes whole-file patches (zstd-patch): content compressed
// with its base as a raw dictionary ("patch from"), so what content shares
// with base costs almost nothing. Base and content are held in memory,
// each at most MaxPatchBase. It keeps its encoder from one patch to the next
// while the window stays the same: the encoder's tables at the best level
// take tens of MiB, and making them anew for each patch on several
// goroutines at once spent more time faulting in fresh memory than
// compressing. The patch is the same as a new encoder's. The zero value is
// ready to use; Close releases the encoder. One goroutine at a time.
type WholeEncoder struct {
	enc    *zstd.Encoder
	window int
}

// Encode returns the patch of content against base.
func (p *WholeEncoder) Encode(base, content []byte) ([]byte, error) {
	window := patchWindow(len(base), len(content))
	var out bytes.Buffer
	// The streaming form, not EncodeAll: EncodeAll compresses on an
	// encoder of its own, so a reset with the new base would build the
	// tables for it twice.
	if p.enc != nil && p.window == window {
		if err := p.enc.ResetWithOptions(&out, zstd.WithEncoderDictRaw(1, base)); err != nil {
			return nil, err
		}
	} else {
		p.Close()
		enc, err := zstd.NewWriter(&out,
			zstd.WithEncoderLevel(patchLevel),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(window),
			zstd.WithEncoderDictRaw(1, base))
		if err != nil {
			return nil, err
		}
		p.enc, p.window = enc, window
	}
	if _, err := p.enc.Write(content); err != nil {
		return nil, err
	}
	if err := p.enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Close releases the encoder kept from the last patch.
func (p *WholeEncoder) Close() {
	if p.enc != nil {
		p.enc.Close()
		p.enc = nil
	}
}

// newWholeReader decodes a whole-file patch against its base, with the
// window bounded by MaxPatchBase.
func newWholeReader(r io.Reader, base []byte) (*zstd.Decoder, error) {
	if len(base) > MaxPatchBase {
		return nil, fmt.Errorf("patch base of %d bytes is over the %d allowed", len(base), MaxPatchBase)
	}
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(uint64(patchWindow(MaxPatchBase, MaxPatchBase))),
		zstd.WithDecoderDictRaw(1, base))
}
