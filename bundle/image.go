package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"ferry/internal/oci"
)

// ImageOptions controls how image sources are read: how registries are
// reached and which platforms of a multi-platform image are kept.
type ImageOptions struct {
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
}

// Errors callers act on, for example to pick an exit code. They are wrapped
// together with the cause, so errors.Is finds both.
var (
	ErrImageNotFound       = errors.New("not found")
	ErrImageUnauthorized   = errors.New("registry refused access")
	ErrRegistryUnreachable = errors.New("registry unreachable")
	ErrImagePlatform       = errors.New("no matching platform")
	ErrImageSource         = errors.New("invalid image source")
)

// Image source transports in skopeo's syntax.
const (
	imageTransportOCI     = "oci"
	imageTransportArchive = "docker-archive"
	imageTransportDocker  = "docker://"
)

// imageUnsupportedTransport reports whether prefix is a skopeo transport
// ferry does not read. They are named so that "oci-archive:x.tar" is refused
// instead of being looked up on Docker Hub as image "oci-archive", tag "x.tar".
func imageUnsupportedTransport(prefix string) bool {
	switch prefix {
	case "oci-archive", "dir", "docker-daemon", "containers-storage", "ostree", "sif", "tarball":
		return true
	}
	return false
}

// ResolveImage resolves one image source into a ResolvedImage. The source
// is a bare registry reference (optionally prefixed "docker://"),
// "oci:DIR[:REF]" for an OCI image layout or "docker-archive:FILE[:REF]" for
// a docker save tarball; DIR and FILE are relative to specDir and may not
// leave it.
//
// Only metadata is read here: manifests, indexes and the configs needed to
// tell an image's platform. Layer content is read when the builder calls
// ImageBlob.Open, so it can be streamed. For registry sources those later
// requests still run under ctx, which must therefore outlive the reads of
// the blobs.
func ResolveImage(ctx context.Context, img ImageSpec, specDir string, opts ImageOptions) (*ResolvedImage, error) {
	src := img.Source
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	want, err := parseImagePlatforms(opts.Platforms)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	served := ""
	if img.Name != "" {
		if served, err = oci.ServedName(img.Name, false); err != nil {
			return nil, fmt.Errorf("image %s: name %q is not an image reference (want repository[:tag]): %w", src, img.Name, err)
		}
	}

	var root *imageRoot
	transport, rest := splitImageSource(src)
	switch transport {
	case imageTransportOCI:
		dir, ref, _ := strings.Cut(rest, ":")
		path, perr := imageSourcePath(specDir, dir)
		if perr != nil {
			return nil, fmt.Errorf("image %s: %w", src, perr)
		}
		root, err = openLayoutImage(src, path, ref, served)
	case imageTransportArchive:
		file, ref, _ := strings.Cut(rest, ":")
		path, perr := imageSourcePath(specDir, file)
		if perr != nil {
			return nil, fmt.Errorf("image %s: %w", src, perr)
		}
		root, err = openArchiveImage(src, path, ref, served)
	case imageTransportDocker:
		root, err = openRegistryImage(ctx, src, rest, served, opts)
	default:
		return nil, fmt.Errorf("image %s: %w: transport %q is not supported; use a registry reference, oci:DIR[:REF] or docker-archive:FILE[:TAG]", src, ErrImageSource, transport)
	}
	if err != nil {
		return nil, err
	}
	return root.resolve(src, want)
}

// splitImageSource splits a source into its transport and the rest. A bare
// reference ("nginx:1.25", "registry:5000/wf/api") is the docker transport;
// its colon separates a tag or a port, not a transport.
func splitImageSource(src string) (transport, rest string) {
	if r, ok := strings.CutPrefix(src, imageTransportDocker); ok {
		return imageTransportDocker, r
	}
	prefix, r, ok := strings.Cut(src, ":")
	if !ok {
		return imageTransportDocker, src
	}
	switch prefix {
	case imageTransportOCI, imageTransportArchive:
		return prefix, r
	}
	if imageUnsupportedTransport(prefix) {
		return prefix, r
	}
	return imageTransportDocker, src
}

// imageSourcePath joins a spec-relative path to the spec directory, refusing
// a path that would leave it: a bundle must be buildable from its own tree.
func imageSourcePath(specDir, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty path", ErrImageSource)
	}
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("%w: path %q must be relative to the spec file and stay inside its directory", ErrImageSource, p)
	}
	return filepath.Join(specDir, p), nil
}

// imageRoot is an image source opened down to its top manifest or index,
// before platforms are chosen. Exactly one of image and index is set.
type imageRoot struct {
	name  string        // the name the appliance serves it under
	desc  v1.Descriptor // media type, digest and size of raw
	raw   []byte        // the exact top manifest or index bytes
	image v1.Image
	index v1.ImageIndex
}

// resolve narrows the root to the wanted platforms and lists its blobs.
func (r *imageRoot) resolve(src string, want []v1.Platform) (*ResolvedImage, error) {
	res := &ResolvedImage{Source: src, Name: r.name}
	w := newImageBlobWalker(src)
	if r.image != nil {
		plat, err := imagePlatformOf(r.image, r.raw)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
		// An image whose config names no platform (an artifact such as a
		// chart) cannot be matched and is kept as it is.
		if plat != nil && len(want) > 0 && !imagePlatformWanted(plat, want) {
			return nil, fmt.Errorf("image %s: %w: it is a single-platform %s image, wanted %s",
				src, ErrImagePlatform, imagePlatformString(plat), imagePlatformList(want))
		}
		res.Descriptor = imageTopDescriptor(r.desc, plat)
		if plat != nil {
			res.Platforms = []string{imagePlatformString(plat)}
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
		res.Descriptor = imageTopDescriptor(r.desc, nil)
		res.Platforms = imageIndexPlatforms(im.Manifests)
		if err := w.index(r.index, r.desc, r.raw); err != nil {
			return nil, err
		}
		res.Blobs = w.blobs
		return res, nil
	}

	var keep []v1.Descriptor
	for _, d := range im.Manifests {
		if imagePlatformWanted(d.Platform, want) {
			keep = append(keep, d)
		}
	}
	switch len(keep) {
	case 0:
		avail := strings.Join(imageIndexPlatforms(im.Manifests), ", ")
		if avail == "" {
			avail = "none declared"
		}
		return nil, fmt.Errorf("image %s: %w: wanted %s, the index has %s",
			src, ErrImagePlatform, imagePlatformList(want), avail)
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
func (r *imageRoot) resolveChild(w *imageBlobWalker, res *ResolvedImage, d v1.Descriptor) error {
	res.Descriptor = imageTopDescriptor(d, d.Platform)
	res.Platforms = imageIndexPlatforms([]v1.Descriptor{d})
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
	return fmt.Errorf("image %s: %w: manifest %s has media type %q", w.src, ErrImageSource, d.Digest, d.MediaType)
}

// resolveNarrowed replaces the index by a new one holding only the wanted
// platform manifests. The new index differs from the source's, so its
// digest does too; the caller records the source's as SourceDigest.
func (r *imageRoot) resolveNarrowed(w *imageBlobWalker, res *ResolvedImage, want []v1.Platform, keep []v1.Descriptor) error {
	narrowed := mutate.RemoveManifests(r.index, func(d v1.Descriptor) bool {
		return !imagePlatformWanted(d.Platform, want)
	})
	raw, err := narrowed.RawManifest()
	if err != nil {
		return fmt.Errorf("image %s: narrowing the index to %s: %w", w.src, imagePlatformList(want), err)
	}
	desc := imageRawDescriptor(r.desc.MediaType, raw)
	res.Descriptor = imageTopDescriptor(desc, nil)
	res.Platforms = imageIndexPlatforms(keep)
	return w.index(narrowed, desc, raw)
}
