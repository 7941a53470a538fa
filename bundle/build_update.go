package bundle

import (
	"context"
	"fmt"
	"maps"
	"os"

	"ferry/updates"

	"golang.org/x/sync/errgroup"
)

// prepareUpdate readies what an update carries, once every blob of the
// release is hashed (todo, in the writer's order): the blobs its base lacks
// are compressed where that pays, workers at once, and the changed files
// that have a base at the same release path are patched against it where
// the patch is clearly smaller. Whole-file patches run up to
// updates.MaxWorkers at once, each holding its file, its base and an
// encoder at the best level; segmented patches run one after another, each
// compressing up to updates.MaxWorkers of its segments at once. What is
// chosen does not depend on the number of workers.
func (b *builder) prepareUpdate(todo []*blob, workers int) error {
	changed := b.changedBlobs(todo)
	if err := b.compressChanged(changed, workers); err != nil {
		return err
	}
	jobs, err := b.patchJobs(changed)
	if err != nil {
		return err
	}
	// The bases of the patches, read from each bundle of the chain that
	// holds some, in one pass over it.
	bases := map[string][]Entry{}
	for _, j := range jobs {
		bases[j.from] = append(bases[j.from], j.base)
	}
	staged := map[string]string{}
	defer func() {
		for _, path := range staged {
			os.Remove(path)
		}
	}()
	for _, c := range b.chain {
		if len(bases[c.path]) == 0 {
			continue
		}
		got, err := stageBaseBlobs(b.ctx, c.path, bases[c.path], b.staging)
		if err != nil {
			return err
		}
		maps.Copy(staged, got)
	}

	patches := make([]*stagedPatch, len(jobs))
	var whole []int
	for i, j := range jobs {
		if !j.segmented {
			whole = append(whole, i)
		}
	}
	err = eachWithState(b.ctx, whole, min(workers, updates.MaxWorkers),
		func() *updates.WholeEncoder { return &updates.WholeEncoder{} }, (*updates.WholeEncoder).Close,
		func(_ context.Context, enc *updates.WholeEncoder, i int) error {
			var err error
			patches[i], err = b.patchWhole(enc, jobs[i].bl, jobs[i].base, staged[jobs[i].base.Path])
			return err
		})
	if err != nil {
		return err
	}
	for i, j := range jobs {
		if !j.segmented {
			continue
		}
		if patches[i], err = b.patchSegments(j.bl, j.base, staged[j.base.Path]); err != nil {
			return err
		}
	}
	for i, p := range patches {
		if p != nil {
			b.usePatch(jobs[i].bl, p)
		}
	}
	return nil
}

// changedBlobs returns the blobs of todo whose content the base lacks,
// each content once, in todo's order.
func (b *builder) changedBlobs(todo []*blob) []*blob {
	var changed []*blob
	seen := map[string]bool{}
	for _, bl := range todo {
		if b.base[bl.digest] || seen[bl.digest] {
			continue
		}
		seen[bl.digest] = true
		changed = append(changed, bl)
	}
	return changed
}

// compressChanged reads the changed blobs again, workers at once,
// compressing each where that pays, and checks that each is still the
// content that was hashed.
func (b *builder) compressChanged(changed []*blob, workers int) error {
	frames := newFramePool()
	defer frames.close()
	return eachWithState(b.ctx, changed, workers, func() *compressor { return newCompressor(frames) }, (*compressor).close,
		func(ctx context.Context, c *compressor, bl *blob) error {
			digest, size := bl.digest, bl.size
			if err := c.scan(ctx, bl, b.staging, true, func(int64) {}); err != nil {
				return fmt.Errorf("%s: %w", bl.source, err)
			}
			if bl.digest != digest || bl.size != size {
				return fmt.Errorf("%s: content changed while the bundle was being built", bl.source)
			}
			return nil
		})
}

// eachWithState calls do for each item, up to workers calls at once, and
// returns the first error; once there is one, calls not yet started see
// their context ended and are not made. Each running call gets a state,
// made by newState and handed on to a later call when it returns, so at
// most workers states are made (encoders, whose tables are costly to
// make); closeState ends them at the end.
func eachWithState[S, T any](ctx context.Context, items []T, workers int, newState func() S, closeState func(S), do func(context.Context, S, T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	free := make(chan S, workers) // never full: at most workers calls run
	for _, it := range items {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var st S
			select {
			case st = <-free:
			default:
				st = newState()
			}
			defer func() { free <- st }()
			return do(ctx, st, it)
		})
	}
	err := g.Wait()
	close(free)
	for st := range free {
		closeState(st)
	}
	return err
}
