package bundle

import (
	"sync"

	"ferry/bundle/image"
)

// resolveWorkers bounds the images resolved at once.
const resolveWorkers = 8

// resolvedImage is one image of the spec after resolution, or why it
// could not be resolved.
type resolvedImage struct {
	ri  *image.Resolved
	err error
}

// resolveImages resolves every image of the spec, several at once: each
// costs a few round trips to its registry (manifests, configs), which
// would otherwise add up image after image, and the layers of each start
// to be fetched as soon as it is resolved (image.Fetcher). The results
// are by component and image, in spec order, so that the bundle and the
// error reported do not depend on which finished first.
func (b *builder) resolveImages() [][]resolvedImage {
	s := b.opts.Spec
	out := make([][]resolvedImage, len(s.Components))
	sem := make(chan struct{}, resolveWorkers)
	var wg sync.WaitGroup
	for ci, cs := range s.Components {
		out[ci] = make([]resolvedImage, len(cs.Images))
		opts := b.opts.Images
		if len(cs.Platforms) > 0 {
			opts.Platforms = cs.Platforms
		}
		for ii, is := range cs.Images {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				ri, err := image.Resolve(b.ctx, is.Source, is.Name, s.Dir, opts)
				out[ci][ii] = resolvedImage{ri, err}
			})
		}
	}
	wg.Wait()
	return out
}
