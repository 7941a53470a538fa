package bundle

import (
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

// encodePatch compresses content with base as a raw dictionary ("patch
// from"): what content shares with base costs almost nothing.
func encodePatch(base, content []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(patchLevel),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(patchWindow(len(base), len(content))),
		zstd.WithEncoderDictRaw(1, base))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(content, nil), nil
}

// NewPatchReader decodes a patch entry against its base, with the window
// bounded by MaxPatchBase.
func NewPatchReader(r io.Reader, base []byte) (*zstd.Decoder, error) {
	if len(base) > MaxPatchBase {
		return nil, fmt.Errorf("patch base of %d bytes is over the %d allowed", len(base), MaxPatchBase)
	}
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(uint64(patchWindow(MaxPatchBase, MaxPatchBase))),
		zstd.WithDecoderDictRaw(1, base))
}
