package updates

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Small segments, so that files of tens of KiB have several: each
// segment costs a new encoder, which the race detector makes slow.
const (
	testSegSize   = 16 << 10
	testSegMargin = 4 << 10
)

// binaryLike returns n bytes that compress like an executable: runs of
// random bytes between repeated instruction-like patterns.
func binaryLike(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n)
	for len(b) < n {
		if r.IntN(2) == 0 {
			for range 16 + r.IntN(64) {
				b = append(b, byte(r.Uint32()))
			}
		} else {
			op := []byte{0x48, 0x8b, byte(r.IntN(8)), 0x24, byte(r.IntN(4))}
			for range 1 + r.IntN(8) {
				b = append(b, op...)
			}
		}
	}
	return b[:n]
}

// recordingBase is a patch base in memory that records every read.
type recordingBase struct {
	data    []byte
	mu      sync.Mutex
	reads   int
	largest int
	total   int64
}

func (r *recordingBase) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.reads++
	r.largest = max(r.largest, len(p))
	r.total += int64(len(p))
	r.mu.Unlock()
	return bytes.NewReader(r.data).ReadAt(p, off)
}

func (r *recordingBase) Size() int64  { return int64(len(r.data)) }
func (r *recordingBase) Close() error { return nil }

// encodeTest writes the segmented patch of content against base into a
// file, three segments at a time, and returns its bytes.
func encodeTest(t *testing.T, base, content []byte, segSize, margin int64) []byte {
	t.Helper()
	return encodeWorkers(t, base, content, segSize, margin, 3)
}

func encodeWorkers(t *testing.T, base, content []byte, segSize, margin int64, workers int) []byte {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "patch"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enc := Encoder{SegmentSize: segSize, Margin: margin, Workers: workers, Limit: 1 << 40}
	n, err := enc.Encode(context.Background(), f, bytes.NewReader(content), int64(len(content)), bytes.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	patch, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(patch)) != n {
		t.Fatalf("Encode says %d bytes, wrote %d", n, len(patch))
	}
	return patch
}

// decodeTest applies patch to base and returns the content and the reads.
func decodeTest(patch []byte, size int64, base []byte) ([]byte, *recordingBase, error) {
	rb := &recordingBase{data: base}
	sr, err := newSegmentReader(bytes.NewReader(patch), size, int64(len(patch)), rb, rb.Size())
	if err != nil {
		return nil, rb, err
	}
	defer sr.Close()
	got, err := io.ReadAll(sr)
	return got, rb, err
}

// TestSegmentedPatchRoundTrip: content rebuilt from a segmented patch is
// the content, for changes in place, insertions that shift the rest by
// less and by more than the margin, growth past the base and shrinking;
// the base is read one bounded window at a time.
func TestSegmentedPatchRoundTrip(t *testing.T) {
	base := binaryLike(1, 40<<10+123)
	inPlace := bytes.Clone(base)
	copy(inPlace[10<<10:], "changed in place")
	copy(inPlace[30<<10:], binaryLike(2, 1024))
	insert := func(at, n int) []byte {
		return append(append(bytes.Clone(base[:at]), binaryLike(3, n)...), base[at:]...)
	}
	for _, tc := range []struct {
		name    string
		base    []byte
		content []byte
		// max is the largest patch that shows the base was used.
		max int
	}{
		{"in place", base, inPlace, 2 << 10},
		{"shift below the margin", base, insert(12<<10, 1000), 2 << 10},
		{"shift beyond the margin", base, insert(12<<10, 3*testSegMargin), 36 << 10},
		// The last segments lie past the end of the base: no dictionary.
		{"grows past the base", base, append(bytes.Clone(inPlace), binaryLike(4, 2*testSegSize)...), 30 << 10},
		{"shrinks to a whole number of segments", base, inPlace[:2*testSegSize], 1 << 10},
		{"shorter than a segment", base, inPlace[:1000], 1 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch := encodeTest(t, tc.base, tc.content, testSegSize, testSegMargin)
			got, rb, err := decodeTest(patch, int64(len(tc.content)), tc.base)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.content) {
				t.Fatalf("decoded %d bytes that differ from the %d encoded", len(got), len(tc.content))
			}
			if len(patch) > tc.max {
				t.Errorf("patch of %d bytes, want at most %d", len(patch), tc.max)
			}
			// Memory: one window at a time, never more than a segment and
			// two margins, and no base byte read more than the margins
			// make necessary.
			if rb.largest > testSegSize+2*testSegMargin {
				t.Errorf("read a base window of %d bytes, more than %d", rb.largest, testSegSize+2*testSegMargin)
			}
			count := SegmentCount(int64(len(tc.content)), testSegSize)
			if rb.total > int64(len(tc.base))+count*2*testSegMargin {
				t.Errorf("read %d bytes of a %d-byte base for %d segments", rb.total, len(tc.base), count)
			}
			t.Logf("%d bytes -> patch of %d bytes in %d segments; %d base reads, at most %d bytes", len(tc.content), len(patch), count, rb.reads, rb.largest)
		})
	}
}

// TestSegmentedPatchLimit: a patch that grows past its limit is given up.
func TestSegmentedPatchLimit(t *testing.T) {
	content := binaryLike(5, 100<<10)
	f, err := os.Create(filepath.Join(t.TempDir(), "patch"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, workers := range []int{1, 3} {
		enc := Encoder{SegmentSize: testSegSize, Margin: testSegMargin, Workers: workers, Limit: 10 << 10}
		_, err = enc.Encode(context.Background(), f, bytes.NewReader(content), int64(len(content)), bytes.NewReader(nil))
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%d workers: got %v, want %v", workers, err, ErrTooLarge)
		}
	}
}

// TestSegmentedPatchWorkers: the patch is the same however many segments
// are compressed at once.
func TestSegmentedPatchWorkers(t *testing.T) {
	base := binaryLike(11, 5*testSegSize+123)
	content := bytes.Clone(base)
	for i := 0; i < len(content); i += testSegSize / 3 {
		content[i] ^= 0x5a
	}
	one := encodeWorkers(t, base, content, testSegSize, testSegMargin, 1)
	for _, workers := range []int{4} {
		if got := encodeWorkers(t, base, content, testSegSize, testSegMargin, workers); !bytes.Equal(got, one) {
			t.Fatalf("%d workers: a patch of %d bytes differs from one worker's %d bytes", workers, len(got), len(one))
		}
	}
}

// closingReader fails every read once closed, as a bundle's file does,
// and remembers that one was tried.
type closingReader struct {
	r      io.Reader
	mu     sync.Mutex
	closed bool
	late   bool
}

func (c *closingReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.late = true
		return 0, errors.New("read after close")
	}
	return c.r.Read(p)
}

func (c *closingReader) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// TestSegmentedPatchStops: a cancelled build stops encoding, and so does
// a patch that grew past its limit; either way nothing reads the content
// after Encode has returned (its caller closes the file then).
func TestSegmentedPatchStops(t *testing.T) {
	base := binaryLike(12, 12*testSegSize)
	content := binaryLike(13, len(base))
	for _, c := range []struct {
		name  string
		limit int64
		want  error
	}{{"cancelled", 1 << 40, context.Canceled}, {"too large", 3 * testSegSize, ErrTooLarge}} {
		ctx, cancel := context.WithCancel(context.Background())
		r := &closingReader{r: bytes.NewReader(content)}
		if errors.Is(c.want, context.Canceled) {
			r.r = io.MultiReader(bytes.NewReader(content[:testSegSize*3]), cancelReader{cancel}, bytes.NewReader(content[testSegSize*3:]))
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "patch"))
		if err != nil {
			t.Fatal(err)
		}
		enc := Encoder{SegmentSize: testSegSize, Margin: testSegMargin, Workers: 3, Limit: c.limit}
		_, err = enc.Encode(ctx, f, r, int64(len(content)), bytes.NewReader(base))
		r.close()
		f.Close()
		cancel()
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: got %v, want %v", c.name, err, c.want)
		}
		time.Sleep(100 * time.Millisecond) // for a reader left running to try
		r.mu.Lock()
		late := r.late
		r.mu.Unlock()
		if late {
			t.Fatalf("%s: the content was read after Encode returned", c.name)
		}
	}
}

// cancelReader cancels when it is read, and reads nothing.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) {
	c.cancel()
	return 0, io.EOF
}

// TestSegmentedPatchDamage: a patch applied to another base, or with a
// byte changed, a frame swapped or a field of its header changed, is
// refused or decodes to other content; it never decodes past its size.
func TestSegmentedPatchDamage(t *testing.T) {
	base := binaryLike(6, 40<<10)
	content := bytes.Clone(base)
	copy(content[20<<10:], "changed")
	patch := encodeTest(t, base, content, testSegSize, testSegMargin)
	size := int64(len(content))
	h, err := readSegHeader(bytes.NewReader(patch), size, int64(len(patch)))
	if err != nil {
		t.Fatal(err)
	}
	hl := int(segHeaderLen(len(h.frames)))

	otherBase := bytes.Clone(base)
	otherBase[21<<10] ^= 1
	if got, _, err := decodeTest(patch, size, otherBase); err == nil && bytes.Equal(got, content) {
		t.Error("a patch applied to another base gave the content")
	}
	for _, tc := range []struct {
		name   string
		damage func(p []byte) []byte
	}{
		{"magic", func(p []byte) []byte { p[0] ^= 1; return p }},
		{"tag", func(p []byte) []byte { p[9] ^= 1; return p }},
		{"version", func(p []byte) []byte { p[16] = 2; return p }},
		{"segment size", func(p []byte) []byte { p[20] ^= 0x40; return p }},
		{"margin", func(p []byte) []byte { p[26] = 0xff; return p }},
		{"count", func(p []byte) []byte { p[28]++; return p }},
		{"frame length", func(p []byte) []byte { p[segFixedLen]++; return p }},
		{"truncated", func(p []byte) []byte { return p[:len(p)-1] }},
		{"trailing byte", func(p []byte) []byte { return append(p, 0) }},
		{"frame byte", func(p []byte) []byte { p[hl+int(h.frames[0])/2] ^= 0x55; return p }},
		{"frame header", func(p []byte) []byte { p[hl+5] ^= 0x20; return p }},
		{"frames swapped", func(p []byte) []byte {
			first, second := p[hl:hl+int(h.frames[0])], p[hl+int(h.frames[0]):hl+int(h.frames[0]+h.frames[1])]
			swapped := append(append(bytes.Clone(p[:hl]), second...), first...)
			swapped = append(swapped, p[hl+len(first)+len(second):]...)
			// The header still gives the first frame's length first.
			return swapped
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			damaged := tc.damage(bytes.Clone(patch))
			got, _, err := decodeTest(damaged, size, base)
			if err == nil && bytes.Equal(got, content) {
				t.Fatal("a damaged patch decoded to the content")
			}
			if int64(len(got)) > size {
				t.Fatalf("decoded %d bytes of %d", len(got), size)
			}
			t.Logf("%v", err)
		})
	}
}

// TestSegHeaderBounds: every field of the header is bounded before use.
func TestSegHeaderBounds(t *testing.T) {
	good := &segHeader{segSize: MinSegmentSize, margin: 0, frames: []int64{10, 20}}
	size := int64(MinSegmentSize + 1)
	raw := appendSegHeader(nil, good)
	stored := int64(len(raw)) + 30
	if h, err := readSegHeader(bytes.NewReader(raw), size, stored); err != nil || len(h.frames) != 2 {
		t.Fatalf("%+v, %v", h, err)
	}
	for _, tc := range []struct {
		name   string
		h      segHeader
		size   int64
		stored int64
	}{
		{"segment too small", segHeader{segSize: MinSegmentSize - 1, frames: []int64{10, 20}}, MinSegmentSize, stored},
		{"segment too large", segHeader{segSize: MaxSegmentSize + 1, frames: []int64{10}}, 10, int64(len(raw)) + 6},
		{"margin too large", segHeader{segSize: MinSegmentSize, margin: MaxSegmentMargin + 1, frames: []int64{10, 20}}, size, stored},
		{"count for another size", *good, size + MinSegmentSize, stored},
		{"empty frame", segHeader{segSize: MinSegmentSize, frames: []int64{0, 30}}, size, stored},
		{"frame too long", segHeader{segSize: MinSegmentSize, frames: []int64{10, maxFrameLen(1) + 1}}, size, int64(len(raw)) + 10 + maxFrameLen(1) + 1},
		{"frames past the stored bytes", *good, size, stored - 1},
		{"stored bytes past the frames", *good, size, stored + 1},
		{"stored bytes shorter than the header", *good, size, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := readSegHeader(bytes.NewReader(appendSegHeader(nil, &tc.h)), tc.size, tc.stored); !errors.Is(err, errSegHeader) {
				t.Fatalf("got %v, want %v", err, errSegHeader)
			}
		})
	}
	// Too many segments is refused from the count alone, before the
	// lengths are read.
	many := appendSegHeader(nil, &segHeader{segSize: MinSegmentSize})
	many[28], many[29], many[30] = 0x01, 0x00, 0x01 // 65537
	if _, err := readSegHeader(bytes.NewReader(many), (MaxSegments+1)*MinSegmentSize, 1<<30); !errors.Is(err, errSegHeader) {
		t.Fatalf("got %v", err)
	}
}

// FuzzSegHeader: any bytes either fail to parse as a segmented patch
// header or parse into one that encodes back to the bytes read, within
// every bound.
func FuzzSegHeader(f *testing.F) {
	base := binaryLike(7, 12<<10)
	content := bytes.Clone(base)
	content[100] ^= 1
	p, err := os.CreateTemp(f.TempDir(), "patch")
	if err != nil {
		f.Fatal(err)
	}
	enc := Encoder{SegmentSize: MinSegmentSize, Margin: 1 << 10, Workers: 2, Limit: 1 << 30}
	n, err := enc.Encode(context.Background(), p, bytes.NewReader(content), int64(len(content)), bytes.NewReader(base))
	if err != nil {
		f.Fatal(err)
	}
	patch, _ := os.ReadFile(p.Name())
	p.Close()
	f.Add(patch, int64(len(content)), n)
	f.Add(appendSegHeader(nil, &segHeader{segSize: MinSegmentSize}), int64(0), int64(segHeaderLen(0)))
	f.Add([]byte("ferryseg"), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, data []byte, size, stored int64) {
		h, err := readSegHeader(bytes.NewReader(data), size, stored)
		if err != nil {
			return
		}
		hl := segHeaderLen(len(h.frames))
		if !bytes.Equal(appendSegHeader(nil, h), data[:hl]) {
			t.Fatalf("header %+v does not encode to the bytes it was read from", h)
		}
		if h.segSize < MinSegmentSize || h.segSize > MaxSegmentSize || h.margin > MaxSegmentMargin || len(h.frames) > MaxSegments {
			t.Fatalf("out of bounds: %+v", h)
		}
		sum := hl
		for i, n := range h.frames {
			if n <= 0 || n > maxFrameLen(h.segmentLen(i, size)) {
				t.Fatalf("frame %d of %d bytes", i, n)
			}
			sum += n
		}
		if sum != stored || int64(len(h.frames)) != SegmentCount(size, h.segSize) {
			t.Fatalf("frames of %d bytes in %d stored, %d segments for %d bytes", sum, stored, len(h.frames), size)
		}
		// Whatever follows, decoding never produces more than size
		// bytes.
		got, _, _ := decodeTest(data, size, base)
		if int64(len(got)) > size {
			t.Fatalf("decoded %d bytes of %d", len(got), size)
		}
	})
}

// BenchmarkSegmentedPatch encodes and applies a 32 MiB file changed in
// place, with the default segments.
func BenchmarkSegmentedPatch(b *testing.B) {
	base := binaryLike(8, 32<<20)
	content := bytes.Clone(base)
	copy(content[10<<20:], binaryLike(9, 4096))
	dir := b.TempDir()
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		f, err := os.Create(filepath.Join(dir, "patch"))
		if err != nil {
			b.Fatal(err)
		}
		enc := Encoder{SegmentSize: DefaultSegmentSize, Margin: DefaultSegmentMargin, Workers: MaxWorkers, Limit: 1 << 40}
		n, err := enc.Encode(context.Background(), f, bytes.NewReader(content), int64(len(content)), bytes.NewReader(base))
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		patch, _ := os.ReadFile(f.Name())
		start := time.Now()
		got, _, err := decodeTest(patch, int64(len(content)), base)
		if err != nil || !bytes.Equal(got, content) {
			b.Fatal("round trip failed", err)
		}
		b.ReportMetric(float64(n), "patch-bytes")
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "decode-ms")
	}
}
