package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Options controls how image sources are read: how registries are
// reached and which platforms of a multi-platform image are kept.
type Options struct {
	// PlainHTTP talks HTTP instead of HTTPS to registries. It is meant for
	// local test registries; loopback and private addresses already get
	// HTTP when HTTPS is not offered.
	PlainHTTP bool
	// Insecure skips TLS certificate verification of registries.
	Insecure bool
	// Platforms are "os/arch[/variant]". An index keeps only the matching
	// platform manifests; empty keeps an index whole.
	Platforms []string
	// Keychain finds registry credentials. Nil means authn.DefaultKeychain:
	// the docker config file and its credential helpers, as docker login
	// leaves them.
	Keychain authn.Keychain
	// Fetcher, when set, fetches the layers of registry images as soon as
	// Resolve lists them, and their Blob.Open waits for it; nil leaves
	// each layer to be fetched when it is opened.
	Fetcher *Fetcher
}

// Errors callers act on, for example to pick an exit code. They are wrapped
// together with the cause, so errors.Is finds both.
var (
	errNotFound     = errors.New("not found")
	errUnauthorized = errors.New("registry refused access")
	errUnreachable  = errors.New("registry unreachable")
	errPlatform     = errors.New("no matching platform")
	errSource       = errors.New("invalid image source")
)

// Image source transports in skopeo's syntax.
const (
	transportOCI     = "oci"
	transportArchive = "docker-archive"
	transportDocker  = "docker://"
)

// unsupportedTransport reports whether prefix is a skopeo transport
// ferry does not read. They are named so that "oci-archive:x.tar" is refused
// instead of being looked up on Docker Hub as image "oci-archive", tag "x.tar".
func unsupportedTransport(prefix string) bool {
	switch prefix {
	case "oci-archive", "dir", "docker-daemon", "containers-storage", "ostree", "sif", "tarball":
		return true
	}
	return false
}

// Resolve resolves one image source of a spec into a Resolved. The source
// is a bare registry reference (optionally prefixed "docker://"),
// "oci:DIR[:REF]" for an OCI image layout or "docker-archive:FILE[:REF]" for
// a docker save tarball; DIR and FILE are relative to specDir and may not
// leave it. name, when set, is the name the appliance's registry serves
// the image under; otherwise the source's own name is used.
//
// Only metadata is read here: manifests, indexes and the configs needed to
// tell an image's platform. Layer content is read when the builder calls
// Blob.Open, so it can be streamed. For registry sources those later
// requests still run under ctx, which must therefore outlive the reads of
// the blobs.
func Resolve(ctx context.Context, src, name, specDir string, opts Options) (*Resolved, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	want, err := parsePlatforms(opts.Platforms)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	served := ""
	if name != "" {
		if served, err = ServedName(name, false); err != nil {
			return nil, fmt.Errorf("image %s: name %q is not an image reference (want repository[:tag]): %w", src, name, err)
		}
	}

	var root *opened
	transport, rest := splitSource(src)
	switch transport {
	case transportOCI:
		dir, ref, _ := strings.Cut(rest, ":")
		path, perr := sourcePath(specDir, dir)
		if perr != nil {
			return nil, fmt.Errorf("image %s: %w", src, perr)
		}
		root, err = openLayout(src, path, ref, served)
	case transportArchive:
		file, ref, _ := strings.Cut(rest, ":")
		path, perr := sourcePath(specDir, file)
		if perr != nil {
			return nil, fmt.Errorf("image %s: %w", src, perr)
		}
		root, err = openArchive(src, path, ref, served)
	case transportDocker:
		root, err = openRegistry(ctx, src, rest, served, opts)
	default:
		return nil, fmt.Errorf("image %s: %w: transport %q is not supported; use a registry reference, oci:DIR[:REF] or docker-archive:FILE[:TAG]", src, errSource, transport)
	}
	if err != nil {
		return nil, err
	}
	return root.resolve(src, want)
}

// splitSource splits a source into its transport and the rest. A bare
// reference ("nginx:1.25", "registry:5000/wf/api") is the docker transport;
// its colon separates a tag or a port, not a transport.
func splitSource(src string) (transport, rest string) {
	if r, ok := strings.CutPrefix(src, transportDocker); ok {
		return transportDocker, r
	}
	prefix, r, ok := strings.Cut(src, ":")
	if !ok {
		return transportDocker, src
	}
	switch prefix {
	case transportOCI, transportArchive:
		return prefix, r
	}
	if unsupportedTransport(prefix) {
		return prefix, r
	}
	return transportDocker, src
}

// sourcePath joins a spec-relative path to the spec directory, refusing
// a path that would leave it: a bundle must be buildable from its own tree.
func sourcePath(specDir, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path", errSource)
	}
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("%w: path %q must be relative to the spec file and stay inside its directory", errSource, p)
	}
	return filepath.Join(specDir, p), nil
}

// opened is an image source opened down to its top manifest or index,
// before platforms are chosen. Exactly one of image and index is set.
type opened struct {
	name  string        // the name the appliance serves it under
	desc  v1.Descriptor // media type, digest and size of raw
	raw   []byte        // the exact top manifest or index bytes
	image v1.Image
	index v1.ImageIndex
	// fetch, when set, is the opener of a layer fetched ahead (Fetcher).
	fetch func(v1.Descriptor) func() (io.ReadCloser, error)
}

// resolve narrows the root to the wanted platforms and lists its blobs.
func (r *opened) resolve(src string, want []v1.Platform) (*Resolved, error) {
	res := &Resolved{Source: src, Name: r.name}
	w := newBlobWalker(src)
	w.fetch = r.fetch
	if r.image != nil {
		plat, err := platformOf(r.image, r.raw)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
		// An image whose config names no platform (an artifact such as a
		// chart) cannot be matched and is kept as it is.
		if plat != nil && len(want) > 0 && !platformWanted(plat, want) {
			return nil, fmt.Errorf("image %s: %w: it is a single-platform %s image, wanted %s",
				src, errPlatform, platformString(plat), platformList(want))
		}
		res.Descriptor = topDescriptor(r.desc, plat)
		if plat != nil {
			res.Platforms = []string{platformString(plat)}
		}
		if err := w.image(r.image, r.desc, r.raw); err != nil {
			return nil, err
		}
		res.Blobs = w.blobs
		return res, nil
	}

	im, err := v1.ParseIndexManifest(bytes.NewReader(r.raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: index %s: %w", src, r.desc.Digest, err)
	}
	if len(want) == 0 {
		res.Descriptor = topDescriptor(r.desc, nil)
		res.Platforms = indexPlatforms(im.Manifests)
		if err := w.index(r.index, r.desc, r.raw); err != nil {
			return nil, err
		}
		res.Blobs = w.blobs
		return res, nil
	}

	var keep []v1.Descriptor
	for _, d := range im.Manifests {
		if platformWanted(d.Platform, want) {
			keep = append(keep, d)
		}
	}
	switch len(keep) {
	case 0:
		avail := strings.Join(indexPlatforms(im.Manifests), ", ")
		if avail == "" {
			avail = "none declared"
		}
		return nil, fmt.Errorf("image %s: %w: wanted %s, the index has %s",
			src, errPlatform, platformList(want), avail)
	case 1:
		if err := r.resolveChild(w, res, keep[0]); err != nil {
			return nil, err
		}
	default:
		if err := r.resolveNarrowed(w, res, want, keep); err != nil {
			return nil, err
		}
	}
	res.SourceDigest = r.desc.Digest
	res.Blobs = w.blobs
	return res, nil
}

// resolveChild makes the one platform manifest chosen from the index the
// image itself.
func (r *opened) resolveChild(w *blobWalker, res *Resolved, d v1.Descriptor) error {
	res.Descriptor = topDescriptor(d, d.Platform)
	res.Platforms = indexPlatforms([]v1.Descriptor{d})
	switch {
	case d.MediaType.IsImage():
		img, err := r.index.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("image %s: manifest %s: %w", w.src, d.Digest, err)
		}
		raw, err := img.RawManifest()
		if err != nil {
			return fmt.Errorf("image %s: manifest %s: %w", w.src, d.Digest, err)
		}
		return w.image(img, d, raw)
	case d.MediaType.IsIndex():
		idx, err := r.index.ImageIndex(d.Digest)
		if err != nil {
			return fmt.Errorf("image %s: index %s: %w", w.src, d.Digest, err)
		}
		raw, err := idx.RawManifest()
		if err != nil {
			return fmt.Errorf("image %s: index %s: %w", w.src, d.Digest, err)
		}
		return w.index(idx, d, raw)
	}
	return fmt.Errorf("image %s: %w: manifest %s has media type %q", w.src, errSource, d.Digest, d.MediaType)
}

// resolveNarrowed replaces the index by a new one holding only the wanted
// platform manifests. The new index differs from the source's, so its
// digest does too; the caller records the source's as SourceDigest.
func (r *opened) resolveNarrowed(w *blobWalker, res *Resolved, want []v1.Platform, keep []v1.Descriptor) error {
	narrowed := mutate.RemoveManifests(r.index, func(d v1.Descriptor) bool {
		return !platformWanted(d.Platform, want)
	})
	raw, err := narrowed.RawManifest()
	if err != nil {
		return fmt.Errorf("image %s: narrowing the index to %s: %w", w.src, platformList(want), err)
	}
	desc := rawDescriptor(r.desc.MediaType, raw)
	res.Descriptor = topDescriptor(desc, nil)
	res.Platforms = indexPlatforms(keep)
	return w.index(narrowed, desc, raw)
}
