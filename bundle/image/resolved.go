package image

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Blob is one blob of an image as it will be stored in the bundle's OCI
// layout: an index, a manifest, a config or a layer. Image blobs are stored
// exactly as they are so their digests never change.
type Blob struct {
	Digest    v1.Hash
	Size      int64
	MediaType string
	// Open opens the blob's content for reading. The builder may call it
	// more than once (hash, then write) and checks that both reads agree.
	Open func() (io.ReadCloser, error)
	// Checked says that what Open yields was checked against Digest and
	// Size already (a layer a Fetcher fetched), so a reader need not hash
	// it again.
	Checked bool
}

// Resolved is an image source after resolution: the top descriptor the
// appliance's registry will serve under Name, and every blob it needs.
type Resolved struct {
	// Source is the spec's source string, kept for inspect and errors.
	Source string
	// Name is the appliance reference: repository path without the registry
	// host, with a tag and/or digest ("wf/api:1.4.0").
	Name string
	// Descriptor is the top-level manifest or index (digest, media type, size).
	Descriptor v1.Descriptor
	// SourceDigest is the digest the source had when it differs from
	// Descriptor.Digest (a multi-arch index narrowed to some platforms).
	SourceDigest v1.Hash
	// Platforms are the platforms included, "os/arch[/variant]".
	Platforms []string
	// Blobs lists every blob reachable from Descriptor, each once, including
	// the top-level manifest or index itself.
	Blobs []Blob
}
