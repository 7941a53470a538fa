package image

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"ferry/internal/registryerr"
)

// openRegistry fetches the manifest or index a registry reference
// points at. Child manifests are fetched while the blobs are listed; layers
// only when opened.
func openRegistry(ctx context.Context, src, refStr, served string, opts Options) (*opened, error) {
	var nopts []name.Option
	if opts.PlainHTTP {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(refStr, nopts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w: not an image reference: %w", src, errSource, err)
	}
	if served == "" {
		if served, err = ServedName(refStr, true); err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
	}

	d, err := remote.Get(ref, remoteOptions(ctx, opts)...)
	if err != nil {
		return nil, registryError(src, ref, err)
	}
	mt := sniffMediaType(d.MediaType, d.Manifest)
	root := &opened{name: served, raw: d.Manifest, desc: rawDescriptor(mt, d.Manifest)}
	if f := opts.Fetcher; f != nil {
		root.fetch = func(ld v1.Descriptor) func() (io.ReadCloser, error) {
			return f.add(src, ref.Context(), opts, ld)
		}
	}
	switch {
	case mt.IsIndex():
		root.index, err = d.ImageIndex()
	case mt.IsImage():
		root.image, err = d.Image()
	case mt.IsSchema1():
		return nil, fmt.Errorf("image %s: %w: Docker schema 1 manifests are obsolete and cannot be stored unchanged; push the image again with a current docker or crane", src, errSource)
	default:
		return nil, fmt.Errorf("image %s: %w: the registry returned media type %q, not an image manifest or index", src, errSource, d.MediaType)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	return root, nil
}

// remoteOptions carries ctx, credentials and TLS settings to every
// request, including the layer fetches made later by Blob.Open.
func remoteOptions(ctx context.Context, opts Options) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(opts.keychain()),
		remote.WithUserAgent("ferry"),
		remote.WithTransport(baseTransport(opts)),
	}
}

func (o Options) keychain() authn.Keychain {
	if o.Keychain == nil {
		return authn.DefaultKeychain
	}
	return o.Keychain
}

// baseTransport is the transport under registry requests: go-containerregistry's,
// without certificate verification when Insecure asks for that.
func baseTransport(opts Options) http.RoundTripper {
	if !opts.Insecure {
		return remote.DefaultTransport
	}
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the caller asked for it explicitly
	return t
}

// sniffMediaType trusts the registry's Content-Type when it names a
// manifest type, else reads the manifest itself: some registries serve
// every manifest as application/json, and OCI manifests may omit mediaType.
func sniffMediaType(mt types.MediaType, raw []byte) types.MediaType {
	if mt.IsIndex() || mt.IsImage() || mt.IsSchema1() {
		return mt
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return mt
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.Manifests != nil:
		return types.OCIImageIndex
	case probe.Config != nil:
		return types.OCIManifestSchema1
	}
	return mt
}

// registryError says what went wrong talking to a registry and what to
// do about it, keeping both a sentinel and the cause for errors.Is.
func registryError(src string, ref name.Reference, err error) error {
	reg := ref.Context().RegistryStr()
	switch registryerr.Classify(err) {
	case registryerr.FailureCanceled:
		return fmt.Errorf("image %s: %w", src, err)
	case registryerr.FailureUntrusted:
		return fmt.Errorf("image %s: %w: the TLS certificate of %s is not trusted; install its CA certificate, or for a test registry skip verification (Insecure): %w",
			src, errUnreachable, reg, err)
	case registryerr.FailurePlainHTTP:
		return fmt.Errorf("image %s: %w: %s speaks plain HTTP; allow it explicitly (PlainHTTP) if that is intended: %w",
			src, errUnreachable, reg, err)
	case registryerr.FailureUnauthorized, registryerr.FailureDenied:
		return fmt.Errorf("image %s: %w: log in to %s (docker login) or check the credentials and their access to %s: %w",
			src, errUnauthorized, reg, ref.Context().RepositoryStr(), err)
	case registryerr.FailureNotFound, registryerr.FailureNameUnknown:
		return fmt.Errorf("image %s: %w in %s: check the repository and the tag or digest: %w",
			src, errNotFound, reg, err)
	case registryerr.FailureUnreachable:
		return fmt.Errorf("image %s: %w: cannot reach %s; check the registry address and the network or proxy settings: %w",
			src, errUnreachable, reg, err)
	}
	return fmt.Errorf("image %s: registry %s: %w", src, reg, err)
}
