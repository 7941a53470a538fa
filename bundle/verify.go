package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"

	"ferry/internal/oci"
	"ferry/updates"
	"ferry/verify"
)

// chunkSize is the unit in which entry content moves from the reading
// goroutine to the hashing workers; with a fixed number of chunks in flight
// it bounds verification memory whatever the bundle's size.
const chunkSize = 1 << 20

// MaxDecoderWindow bounds the memory a zstd entry may ask for when it is
// decompressed (deep verification, installation).
const MaxDecoderWindow = 64 << 20

// VerifyOptions control Verify.
type VerifyOptions struct {
	// Trust is the set of keys the manifest must be signed by.
	Trust verify.TrustSet
	// Deep also decompresses zstd entries and checks their content digest
	// and size, and checks the header and frame headers of segmented
	// patches (which decode only against their base, on the host). Stored
	// digests are signed, so this is not needed to detect tampering; it
	// proves that the signed content inflates as declared.
	Deep bool
	// Workers is the number of hashing goroutines (default: one per CPU).
	Workers int
	// Progress, when set, is called with the number of bytes read.
	Progress func(n int64)
}

// Verified is what a successful verification established.
type Verified struct {
	Manifest    *Manifest
	RawManifest []byte
	// Digest is the manifest's sha256, the bundle's identity.
	Digest string
	// Signatures are all signature entries; SignedBy the trusted key IDs
	// whose signatures verified.
	Signatures []verify.Signature
	SignedBy   []string
	// Trust is the trust set the signatures verified against: the one
	// given, or where the bundle's rotation statements moved it, and
	// Rotations the statements applied to get there.
	Trust     verify.TrustSet
	Rotations []*verify.Rotation
	// Size is the number of bytes read.
	Size int64
}

// VerifyFile verifies the bundle at path, in any form OpenArchive
// accepts; see Verify.
func VerifyFile(ctx context.Context, path string, opts VerifyOptions) (*Verified, error) {
	f, err := OpenArchive(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Verify(ctx, f, opts)
}

// Verify reads a bundle once, front to back: it checks the manifest's
// signatures against opts.Trust before parsing it, then every entry against
// the manifest, hashing entries in parallel. Nothing outside the manifest is
// accepted. Errors are *Error (or verify's signature errors) naming the entry.
func Verify(ctx context.Context, r io.Reader, opts VerifyOptions) (*Verified, error) {
	w := newWalker(r, opts.Progress)
	head, err := trustedHead(w, opts.Trust)
	if err != nil {
		return nil, err
	}
	if err := checkEntries(ctx, w, head.next, head.manifest, opts); err != nil {
		return nil, err
	}
	return &Verified{
		Manifest:    head.manifest,
		RawManifest: head.RawManifest,
		Digest:      ManifestDigest(head.RawManifest),
		Signatures:  head.Signatures,
		SignedBy:    head.signedBy,
		Trust:       head.trust,
		Rotations:   head.rotations,
		Size:        w.track.n,
	}, nil
}

// hashJob is one entry on its way through a hashing worker.
type hashJob struct {
	index  int
	entry  Entry
	chunks chan []byte
	// aborted is set, before chunks is closed, when the reader failed in
	// the middle of the entry: the reader's error is the one to report.
	aborted bool
}

// checkEntries walks the entries after the signatures in manifest order,
// handing their content to a pool of hashing workers.
func checkEntries(ctx context.Context, w *walker, first *tar.Header, m *Manifest, opts VerifyOptions) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A fixed pool of chunk buffers bounds memory: the reader waits for a
	// free buffer when the workers fall behind.
	free := make(chan []byte, 4*workers)
	for range cap(free) {
		free <- nil
	}
	jobs := make(chan *hashJob, workers)
	errs := newFirstError(cancel)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for job := range jobs {
				if err := hashEntry(job, free, opts.Deep); err != nil {
					errs.set(job.index, err)
				}
			}
		})
	}

	at, readErr := feedEntries(ctx, w, first, m, jobs, free)
	close(jobs)
	wg.Wait()
	if readErr != nil {
		errs.set(at, readErr)
	}
	return errs.get()
}

// feedEntries is the reading side of checkEntries. On error it also returns
// the position of the entry concerned.
func feedEntries(ctx context.Context, w *walker, first *tar.Header, m *Manifest, jobs chan<- *hashJob, free chan []byte) (int, error) {
	seq := newSequence(w, m, first)
	for {
		want, err := seq.next()
		if errors.Is(err, io.EOF) {
			return seq.index, nil
		}
		if err != nil {
			return seq.index, err
		}
		job := &hashJob{index: seq.index, entry: want, chunks: make(chan []byte, 4)}
		select {
		case jobs <- job:
		case <-ctx.Done():
			return seq.index, ctx.Err()
		}
		err = sendChunks(ctx, w, job, free)
		job.aborted = err != nil
		close(job.chunks)
		if err != nil {
			return seq.index, err
		}
	}
}

// sendChunks reads the current entry in chunks and hands them to its job.
func sendChunks(ctx context.Context, w *walker, job *hashJob, free chan []byte) error {
	remaining := job.entry.StoredSize
	for remaining > 0 {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		if buf == nil {
			buf = make([]byte, chunkSize)
		}
		n := int64(len(buf))
		if remaining < n {
			n = remaining
		}
		if _, err := io.ReadFull(w, buf[:n]); err != nil {
			free <- buf
			return tarError(err, job.entry.Path)
		}
		remaining -= n
		select {
		case job.chunks <- buf[:n]:
		case <-ctx.Done():
			free <- buf
			return ctx.Err()
		}
	}
	return nil
}

// hashEntry hashes one entry's chunks and compares the result with the
// manifest. It always drains the job so the reader never blocks on it.
func hashEntry(job *hashJob, free chan []byte, deep bool) error {
	cr := &chunkReader{chunks: job.chunks, free: free}
	defer cr.drain()
	stored := sha256.New()
	e := job.entry
	if deep && e.Encoding == EncodingZstd {
		if err := checkInflation(io.TeeReader(cr, stored), e); err != nil {
			cr.drain()
			if job.aborted {
				return nil
			}
			return err
		}
	}
	// A segmented patch decodes only against its base, which a bundle on
	// its own does not have: its header and frame headers are what can be
	// checked. The rest is hashed either way, and a stored digest that
	// does not match is the cause to report.
	var segErr error
	if deep && e.Encoding == EncodingZstdPatchSeg {
		if err := updates.CheckSegments(io.TeeReader(cr, stored), e.Size, e.StoredSize); err != nil {
			segErr = newError(ErrDigestMismatch, e.Path, err)
		}
	}
	if _, err := io.Copy(stored, cr); err != nil {
		return err
	}
	if job.aborted {
		return nil
	}
	if got := digestOf(stored); got != e.StoredDigest {
		return newError(ErrDigestMismatch, e.Path, fmt.Errorf("got %s, signed %s", got, e.StoredDigest))
	}
	return segErr
}

// checkInflation decompresses a zstd entry with bounded memory and checks
// its content against the signed size and digest, as the installing
// Reader does.
func checkInflation(r io.Reader, e Entry) error {
	dec, err := NewZstdReader(r)
	if err != nil {
		return err
	}
	defer dec.Close()
	_, err = io.Copy(io.Discard, &digestReader{r: io.LimitReader(dec, e.Size+1), h: sha256.New(),
		entry: e.Path, want: e.Digest, size: e.Size, inflation: true})
	return err
}

// NewZstdReader returns a zstd decoder with memory bounded for untrusted
// input: a single goroutine and a capped window.
func NewZstdReader(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxDecoderWindow),
		zstd.WithDecoderMaxMemory(MaxBlobSize))
}

func digestOf(h hash.Hash) string { return oci.FromHash(h).String() }

// chunkReader turns a job's chunk channel back into an io.Reader, returning
// each buffer to the pool once consumed.
type chunkReader struct {
	chunks <-chan []byte
	free   chan<- []byte
	cur    []byte
	buf    []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if c.buf != nil {
			c.free <- c.buf[:cap(c.buf)]
			c.buf = nil
		}
		b, ok := <-c.chunks
		if !ok {
			return 0, io.EOF
		}
		c.buf, c.cur = b, b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// WriteTo lets io.Copy hash whole chunks without an extra copy.
func (c *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(c.cur) == 0 {
			if c.buf != nil {
				c.free <- c.buf[:cap(c.buf)]
				c.buf = nil
			}
			b, ok := <-c.chunks
			if !ok {
				return total, nil
			}
			c.buf, c.cur = b, b
		}
		n, err := w.Write(c.cur)
		total += int64(n)
		c.cur = c.cur[n:]
		if err != nil {
			return total, err
		}
	}
}

func (c *chunkReader) drain() {
	_, _ = c.WriteTo(io.Discard)
}

// firstError keeps the error of the earliest entry, so that a bundle with
// several faults is always reported the same way.
type firstError struct {
	mu     sync.Mutex
	index  int
	err    error
	cancel func()
}

func newFirstError(cancel func()) *firstError { return &firstError{cancel: cancel} }

func (f *firstError) set(index int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case errors.Is(err, context.Canceled) && f.err != nil:
		// A consequence of the first error, not a cause.
	case f.err == nil || index < f.index || errors.Is(f.err, context.Canceled):
		f.index, f.err = index, err
	}
	f.cancel()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
