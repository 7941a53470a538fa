package bundle

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// scanner hashes and, where it pays, compresses the non-image blobs on a
// pool of workers while the writer streams finished blobs into the bundle.
// For an update it only hashes.
type scanner struct {
	todo   []*blob // in the order the writer takes them
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	first error // the first failure that is not a consequence of another
}

// startScan starts the workers. Blobs are scanned largest first, so that no
// worker starts a big file when the others are nearly done; the writer
// takes them in the same order, which keeps the bundle deterministic.
func (b *builder) startScan(workers int) *scanner {
	ctx, cancel := context.WithCancel(b.ctx)
	sc := &scanner{cancel: cancel}
	var total int64
	for _, bl := range b.order {
		if !bl.image {
			bl.done = make(chan struct{})
			sc.todo = append(sc.todo, bl)
			total += bl.sizeHint
		}
	}
	sort.SliceStable(sc.todo, func(i, j int) bool { return sc.todo[i].sizeHint > sc.todo[j].sizeHint })

	var mu sync.Mutex
	var scanned int64
	report := func(n int64) {
		if b.opts.Progress == nil {
			return
		}
		mu.Lock()
		scanned += n
		d := scanned
		mu.Unlock()
		b.opts.Progress("scan", d, total)
	}
	// An update compresses only what it carries, once it knows which
	// blobs those are (prepareUpdate): most of a release is in its base.
	compress := b.base == nil
	var frames *framePool
	if compress {
		frames = newFramePool()
	}
	work := make(chan *blob)
	var scanners sync.WaitGroup
	for range workers {
		scanners.Go(func() {
			c := newCompressor(frames)
			defer c.close()
			for bl := range work {
				if err := c.scan(ctx, bl, b.staging, compress, report); err != nil {
					bl.err = fmt.Errorf("%s: %w", bl.source, err)
					sc.fail(bl.err)
				}
				close(bl.done)
			}
		})
	}
	sc.wg.Go(func() {
		scanners.Wait()
		if frames != nil {
			frames.close()
		}
	})
	sc.wg.Go(func() {
		defer close(work)
		for i, bl := range sc.todo {
			select {
			case work <- bl:
			case <-ctx.Done():
				// Nothing more will be scanned: release the writer.
				for _, rest := range sc.todo[i:] {
					rest.err = ctx.Err()
					close(rest.done)
				}
				return
			}
		}
	})
	return sc
}

// fail records err and stops the other workers.
func (sc *scanner) fail(err error) {
	sc.mu.Lock()
	if sc.first == nil || errors.Is(sc.first, context.Canceled) {
		sc.first = err
	}
	sc.mu.Unlock()
	sc.cancel()
}

// wait blocks until blob bl is scanned and returns the build's first
// failure if it, or any other blob, failed.
func (sc *scanner) wait(ctx context.Context, bl *blob) error {
	select {
	case <-bl.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if bl.err != nil {
		return sc.err(bl.err)
	}
	return nil
}

func (sc *scanner) err(fallback error) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.first != nil {
		return sc.first
	}
	return fallback
}

// stop cancels what is left and waits for the workers.
func (sc *scanner) stop() {
	sc.cancel()
	sc.wg.Wait()
}
