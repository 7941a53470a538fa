package image

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Fetch defaults: how many blobs are fetched at once, and how many times a
// blob's request is made before its failure is the build's.
const (
	DefaultFetchers = 8
	fetchAttempts   = 5
	// fetchBuffer is the unit of a fetch's reads and writes: large, for
	// few system calls.
	fetchBuffer = 256 << 10
)

// FetchOptions control a Fetcher.
type FetchOptions struct {
	// Dir is where fetched blobs are kept until the builder reads them.
	Dir string
	// Workers is the number of blobs fetched at once (DefaultFetchers when
	// zero or less).
	Workers int
	// Progress, when set, is called with an image source's bytes fetched
	// and its bytes to fetch, from any goroutine. A blob two images share
	// counts for the first that named it.
	Progress func(source string, done, total int64)
}

// A Fetcher fetches the layers of registry images into a directory ahead
// of the builder that reads them, on a bounded pool of goroutines, so that
// the layers of every image of a bundle come down at once instead of one
// after another as the builder reaches them. Resolve hands it a registry
// image's layers (Options.Fetcher) as it lists them, and their Blob.Open
// waits for the fetch. A blob is fetched once whatever the number of
// images that name it (shared base layers). A request that fails part way
// is made again from the byte it stopped at (an HTTP range request), so a
// dropped connection costs the bytes in flight, not the blob, and never a
// blob already fetched.
type Fetcher struct {
	ctx    context.Context
	cancel context.CancelFunc
	opts   FetchOptions
	wg     sync.WaitGroup

	mu      sync.Mutex
	more    *sync.Cond // signalled when queue grows or the fetcher closes
	queue   []*fetch   // in the order the builder will read them
	closed  bool
	blobs   map[v1.Hash]*fetch
	clients map[string]*http.Client // by repository
	images  map[string]*fetchProgress
	first   error
}

// fetch is one blob to fetch; done is closed once err and path say how it
// went.
type fetch struct {
	repo   name.Repository
	opts   Options
	digest v1.Hash
	size   int64
	image  *fetchProgress
	path   string
	err    error
	done   chan struct{}
}

type fetchProgress struct {
	source      string
	done, total int64
}

// NewFetcher starts a fetcher whose requests run under ctx. Close stops
// it.
func NewFetcher(ctx context.Context, opts FetchOptions) *Fetcher {
	if opts.Workers <= 0 {
		opts.Workers = DefaultFetchers
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Fetcher{
		ctx: ctx, cancel: cancel, opts: opts,
		blobs:   map[v1.Hash]*fetch{},
		clients: map[string]*http.Client{},
		images:  map[string]*fetchProgress{},
	}
	f.more = sync.NewCond(&f.mu)
	for range opts.Workers {
		f.wg.Go(f.worker)
	}
	return f
}

// worker fetches queued blobs, oldest first, until the fetcher closes.
// Once closed, what is still queued fails at once (its context ended).
func (f *Fetcher) worker() {
	for {
		f.mu.Lock()
		for len(f.queue) == 0 && !f.closed {
			f.more.Wait()
		}
		if len(f.queue) == 0 {
			f.mu.Unlock()
			return
		}
		fe := f.queue[0]
		f.queue = f.queue[1:]
		f.mu.Unlock()
		f.run(fe)
	}
}

// Close stops fetching what is left and waits for the fetches under way.
// Blobs not yet fetched fail to open.
func (f *Fetcher) Close() {
	f.cancel()
	f.mu.Lock()
	f.closed = true
	f.more.Broadcast()
	f.mu.Unlock()
	f.wg.Wait()
}

// add queues a layer of image src in repo, unless it is queued already,
// and returns the opener of its fetched content.
func (f *Fetcher) add(src string, repo name.Repository, opts Options, d v1.Descriptor) func() (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fe, ok := f.blobs[d.Digest]
	if !ok {
		img := f.images[src]
		if img == nil {
			img = &fetchProgress{source: src}
			f.images[src] = img
		}
		img.total += d.Size
		fe = &fetch{repo: repo, opts: opts, digest: d.Digest, size: d.Size, image: img, done: make(chan struct{})}
		f.blobs[d.Digest] = fe
		if f.closed {
			fe.err = fmt.Errorf("image %s: layer %s: the fetcher is closed", src, d.Digest)
			close(fe.done)
		} else {
			f.queue = append(f.queue, fe)
			f.more.Signal()
		}
	}
	return func() (io.ReadCloser, error) { return f.open(src, fe) }
}

// Discard removes the fetched copy of a blob once its reader is done with
// it, so that the copy's pages are dropped rather than written back to
// disk; opening the blob after fails.
func (f *Fetcher) Discard(digest v1.Hash) {
	f.mu.Lock()
	fe := f.blobs[digest]
	f.mu.Unlock()
	if fe == nil {
		return
	}
	select {
	case <-fe.done:
		if fe.path != "" {
			os.Remove(fe.path)
		}
	default:
	}
}

// open waits for a blob's fetch and opens what it fetched. When another
// blob's failure stopped the fetcher, that failure is the one to report.
func (f *Fetcher) open(src string, fe *fetch) (io.ReadCloser, error) {
	select {
	case <-fe.done:
	case <-f.ctx.Done():
		select {
		case <-fe.done:
		default:
			return nil, f.stopped(fmt.Errorf("image %s: layer %s: %w", src, fe.digest, f.ctx.Err()))
		}
	}
	if fe.err != nil {
		return nil, f.stopped(fe.err)
	}
	return os.Open(fe.path)
}

// stopped returns the failure that stopped the fetcher in place of err
// when err is only the consequence of that stop.
func (f *Fetcher) stopped(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errors.Is(err, context.Canceled) && f.first != nil {
		return f.first
	}
	return err
}

// run fetches one blob; the first failure stops the others, since the
// build fails with it.
func (f *Fetcher) run(fe *fetch) {
	err := f.fetch(fe)
	if err != nil {
		f.mu.Lock()
		if f.first == nil && !errors.Is(err, context.Canceled) {
			f.first = err
		}
		f.mu.Unlock()
	}
	fe.err = err
	close(fe.done)
	if err != nil {
		f.cancel()
	}
}

// fetch gets a blob into a file of the fetcher's directory, named by its
// digest, resuming a request that fails part way from where it stopped.
func (f *Fetcher) fetch(fe *fetch) error {
	src := fe.image.source
	fail := func(err error) error { return fmt.Errorf("image %s: layer %s: %w", src, fe.digest, err) }
	ref := fe.repo.Digest(fe.digest.String())
	client, err := f.client(fe)
	if err != nil {
		return registryError(src, ref, err)
	}
	path := filepath.Join(f.opts.Dir, fe.digest.Algorithm+"-"+fe.digest.Hex)
	file, err := os.OpenFile(path+".part", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fail(err)
	}
	defer file.Close()
	w := &fetchWriter{f: f, fe: fe, file: file, h: sha256.New(), buf: make([]byte, fetchBuffer)}
	url := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", fe.repo.Scheme(), fe.repo.RegistryStr(), fe.repo.RepositoryStr(), fe.digest)
	for attempt := 1; ; attempt++ {
		err = w.get(f.ctx, client, url)
		if err == nil {
			break
		}
		var perm *permanentError
		switch {
		case f.ctx.Err() != nil:
			return fail(f.ctx.Err())
		case errors.As(err, &perm) && perm.status != 0:
			return registryError(src, ref, fmt.Errorf("layer %s: %w", fe.digest, err))
		case errors.As(err, &perm):
			return fail(err)
		case attempt == fetchAttempts:
			return registryError(src, ref, fmt.Errorf("layer %s: after %d attempts: %w", fe.digest, attempt, err))
		}
		select {
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		case <-f.ctx.Done():
			return fail(f.ctx.Err())
		}
	}
	if got := (v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", w.h.Sum(nil))}); got != fe.digest {
		return fail(fmt.Errorf("the registry sent content of digest %s", got))
	}
	if err := file.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(path+".part", path); err != nil {
		return fail(err)
	}
	fe.path = path
	return nil
}

// fetchWriter is a blob's file as it is fetched: the bytes so far, their
// running SHA-256 and the progress of its image.
type fetchWriter struct {
	f    *Fetcher
	fe   *fetch
	file *os.File
	h    hash.Hash
	n    int64
	buf  []byte
}

// permanentError is a failure that asking again will not mend.
type permanentError struct {
	status int
	err    error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// get requests the blob's bytes from w.n on and appends them. A server
// that ignores the range sends the whole blob, which then starts over.
func (w *fetchWriter) get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &permanentError{err: err}
	}
	if w.n > 0 {
		// Both ends: some registries (go-containerregistry's) refuse an
		// open range.
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", w.n, w.fe.size-1))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && w.n > 0:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(w.n, 10)+"-") {
			return fmt.Errorf("the registry answered a request from byte %d with range %q", w.n, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		if err := w.restart(); err != nil {
			return &permanentError{err: err}
		}
	default:
		err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return err
		}
		return &permanentError{status: resp.StatusCode, err: err}
	}
	// One byte past the size tells a blob larger than declared.
	n, err := io.CopyBuffer(w, io.LimitReader(resp.Body, w.fe.size-w.n+1), w.buf)
	if err != nil {
		return err
	}
	if w.n != w.fe.size {
		if n == 0 || w.n > w.fe.size {
			return &permanentError{err: fmt.Errorf("the registry sent %d bytes, the manifest declares %d", w.n, w.fe.size)}
		}
		return fmt.Errorf("the registry sent %d of %d bytes", w.n, w.fe.size)
	}
	return nil
}

func (w *fetchWriter) Write(p []byte) (int, error) {
	n, err := w.file.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	w.f.report(w.fe, int64(n))
	return n, err
}

// restart empties the file for a whole blob sent again.
func (w *fetchWriter) restart() error {
	if w.n == 0 {
		return nil
	}
	w.f.report(w.fe, -w.n)
	w.n = 0
	w.h.Reset()
	if err := w.file.Truncate(0); err != nil {
		return err
	}
	_, err := w.file.Seek(0, io.SeekStart)
	return err
}

func (f *Fetcher) report(fe *fetch, n int64) {
	if f.opts.Progress == nil {
		return
	}
	f.mu.Lock()
	fe.image.done += n
	done, total := fe.image.done, fe.image.total
	f.mu.Unlock()
	f.opts.Progress(fe.image.source, done, total)
}

// client returns the authenticated client of a blob's repository, made
// once per repository.
func (f *Fetcher) client(fe *fetch) (*http.Client, error) {
	key := fe.repo.String()
	f.mu.Lock()
	c, ok := f.clients[key]
	f.mu.Unlock()
	if ok {
		return c, nil
	}
	kc := fe.opts.keychain()
	auth, err := kc.Resolve(fe.repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(f.ctx, fe.repo.Registry, auth, baseTransport(fe.opts), []string{fe.repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	c = &http.Client{Transport: rt}
	f.mu.Lock()
	if prev, ok := f.clients[key]; ok {
		c = prev
	} else {
		f.clients[key] = c
	}
	f.mu.Unlock()
	return c, nil
}
