package push

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"ferry/internal/registryerr"
)

// Push copies images from the OCI layout at storeDir to the registry
// opts.Target names, and returns what it did for each, in the order pushed.
//
// Manifests are pushed as they are and multi-platform indexes as indexes,
// so every digest is the store's. Blobs the registry already has are not
// uploaded (remote.Write asks with HEAD first), and an image whose name
// already carries the same digest is not pushed at all.
//
// Images are pushed one after the other; the layers of each go in
// parallel. The first image that cannot be pushed stops the push: the
// results of the images before it are returned with the error. An attempt
// failing transiently is retried, the whole image at a time, which is
// cheap because finished blobs are not sent again.
func Push(ctx context.Context, storeDir string, opts Options) ([]Result, error) {
	opts = opts.withDefaults()
	tgt, err := parseTarget(opts.Target, opts.PlainHTTP)
	if err != nil {
		return nil, err
	}
	lp, err := layout.FromPath(storeDir)
	if err != nil {
		return nil, fmt.Errorf("content store %s: %w", storeDir, err)
	}
	root, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("content store %s: %w", storeDir, err)
	}
	images, err := readImages(root, storeDir, opts.Images)
	if err != nil {
		return nil, err
	}
	// Every name is mapped before the first request, so that a name the
	// target cannot take fails the push before anything is pushed.
	refs := make([]name.Reference, len(images))
	for i, im := range images {
		if refs[i], err = tgt.ref(im.name, im.desc.Digest); err != nil {
			return nil, fmt.Errorf("push to %s: %w", opts.Target, err)
		}
	}

	tr := newTransport(opts.Insecure)
	defer tr.CloseIdleConnections()
	var rt http.RoundTripper = tr
	if !tgt.plainHTTP {
		rt = httpsOnly{next: tr}
	}
	p := pusher{
		dir:     storeDir,
		store:   root,
		retries: opts.Retries,
		backoff: opts.Backoff,
		log:     opts.Log,
		remote: []remote.Option{
			remote.WithContext(ctx),
			remote.WithTransport(rt),
			remote.WithAuthFromKeychain(opts.Keychain),
			remote.WithUserAgent("ferry"),
			// go-containerregistry retries requests on its own; Push
			// retries whole images, and both together would multiply
			// the attempts and the waits the operator asked for.
			remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
			remote.WithRetryPredicate(func(error) bool { return false }),
			remote.WithRetryStatusCodes(),
		},
	}
	results := make([]Result, 0, len(images))
	for i, im := range images {
		r, err := p.push(ctx, im, refs[i])
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// pusher pushes the images of one Push call.
type pusher struct {
	dir     string        // the store, for messages
	store   v1.ImageIndex // the store's index.json
	retries int
	backoff time.Duration
	log     *slog.Logger
	remote  []remote.Option
}

// push pushes one image, retrying transient failures.
func (p *pusher) push(ctx context.Context, im storeImage, ref name.Reference) (Result, error) {
	res := Result{Image: im.name, Target: ref.String(), Digest: im.desc.Digest.String()}
	fail := func(err error) (Result, error) {
		return Result{}, fmt.Errorf("push %s to %s: %w", im.name, res.Target, err)
	}
	content, err := p.load(im)
	if err != nil {
		return fail(err)
	}
	log := p.log.With("image", im.name, "target", res.Target)
	for attempt := 1; ; attempt++ {
		pushed, err := p.attempt(ctx, im, ref, content, log)
		if err == nil {
			res.Pushed = pushed
			if pushed {
				log.Info("pushed image", "digest", res.Digest)
			} else {
				log.Info("image already present", "digest", res.Digest)
			}
			return res, nil
		}
		if !transient(ctx, err) {
			return fail(explain(err, ref))
		}
		if attempt >= p.retries {
			return fail(fmt.Errorf("giving up after %d attempts: %w", attempt, err))
		}
		wait := backoff(p.backoff, attempt)
		log.Warn("push failed, will retry", "attempt", attempt, "wait", wait, "err", err)
		if serr := sleep(ctx, wait); serr != nil {
			// The interruption is why the push stopped; the last
			// attempt's failure is context, kept out of the chain so
			// that an errno in it cannot change the exit code.
			return fail(fmt.Errorf("%w (the last attempt failed: %v)", serr, err)) //nolint:errorlint // see above
		}
	}
}

// load opens the image or index in the store and checks that its manifest
// is the one index.json names: a damaged store must not reach the
// operator's registry under the vendor's name.
func (p *pusher) load(im storeImage) (remote.Taggable, error) {
	var (
		t   remote.Taggable
		err error
	)
	if im.desc.MediaType.IsIndex() {
		t, err = p.store.ImageIndex(im.desc.Digest)
	} else {
		t, err = p.store.Image(im.desc.Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("content store %s: %w", p.dir, err)
	}
	raw, err := t.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("content store %s: %w", p.dir, err)
	}
	got, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if got != im.desc.Digest {
		return nil, fmt.Errorf("content store %s: the manifest of %s has digest %s", p.dir, im.desc.Digest, got)
	}
	return t, nil
}

// attempt makes one try at pushing an image. It reports whether anything
// was pushed: false when the registry already had the image under ref.
func (p *pusher) attempt(ctx context.Context, im storeImage, ref name.Reference, content remote.Taggable, log *slog.Logger) (bool, error) {
	d, err := remote.Head(ref, p.remote...)
	switch {
	case err == nil && d.Digest == im.desc.Digest:
		return false, nil
	case err == nil:
		log.Info("replacing image", "old_digest", d.Digest.String(), "digest", im.desc.Digest.String())
	case transient(ctx, err):
		return false, err
	case registryerr.HTTPStatus(err) >= 400:
		// 404: not there yet. Other refusals: some registries answer
		// HEAD only to clients that may pull, and a client that may
		// only push learns from the push itself whether it may.
		log.Debug("image not found in the registry", "err", err)
	default:
		return false, err
	}
	switch c := content.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, c, p.remote...)
	case v1.Image:
		err = remote.Write(ref, c, p.remote...)
	default:
		err = fmt.Errorf("unexpected content type %T", content)
	}
	return err == nil, err
}
