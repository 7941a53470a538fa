package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blobWalker lists every blob reachable from a top manifest or index,
// each once: two manifests of an index often share a base layer, and the
// bundle stores it once.
type blobWalker struct {
	src   string
	seen  map[v1.Hash]bool
	blobs []Blob
	// fetch, when set, is the opener of a distributable layer fetched
	// ahead (Fetcher).
	fetch func(v1.Descriptor) func() (io.ReadCloser, error)
}

func newBlobWalker(src string) *blobWalker {
	return &blobWalker{src: src, seen: map[v1.Hash]bool{}}
}

func (w *blobWalker) add(b Blob) {
	w.seen[b.Digest] = true
	w.blobs = append(w.blobs, b)
}

// manifest adds a manifest or index from the bytes already read. They are
// checked against the descriptor that points at them, because a layout on
// disk is not verified by anyone else, and are what Open returns, so the
// stored bytes are exactly the ones the digest covers.
func (w *blobWalker) manifest(d v1.Descriptor, raw []byte) error {
	h, n, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("image %s: manifest %s: %w", w.src, d.Digest, err)
	}
	if h != d.Digest || n != d.Size {
		return fmt.Errorf("image %s: manifest %s: content is %s, %d bytes, declared %d bytes; the source is damaged",
			w.src, d.Digest, h, n, d.Size)
	}
	w.add(Blob{
		Digest:    d.Digest,
		Size:      d.Size,
		MediaType: string(d.MediaType),
		Open:      func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
	})
	return nil
}

// index adds an index and everything its manifests reach.
func (w *blobWalker) index(idx v1.ImageIndex, d v1.Descriptor, raw []byte) error {
	if w.seen[d.Digest] {
		return nil
	}
	if err := w.manifest(d, raw); err != nil {
		return err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("image %s: index %s: %w", w.src, d.Digest, err)
	}
	for _, c := range im.Manifests {
		if w.seen[c.Digest] {
			continue
		}
		switch {
		case c.MediaType.IsImage():
			img, err := idx.Image(c.Digest)
			if err != nil {
				return fmt.Errorf("image %s: manifest %s: %w", w.src, c.Digest, err)
			}
			craw, err := img.RawManifest()
			if err != nil {
				return fmt.Errorf("image %s: manifest %s: %w", w.src, c.Digest, err)
			}
			if err := w.image(img, c, craw); err != nil {
				return err
			}
		case c.MediaType.IsIndex():
			ci, err := idx.ImageIndex(c.Digest)
			if err != nil {
				return fmt.Errorf("image %s: index %s: %w", w.src, c.Digest, err)
			}
			craw, err := ci.RawManifest()
			if err != nil {
				return fmt.Errorf("image %s: index %s: %w", w.src, c.Digest, err)
			}
			if err := w.index(ci, c, craw); err != nil {
				return err
			}
		default:
			return fmt.Errorf("image %s: %w: index %s lists %s with media type %q",
				w.src, errSource, d.Digest, c.Digest, c.MediaType)
		}
	}
	return nil
}

// image adds a manifest, its config and its layers. Layers are opened
// through the source's own v1.Layer, so a registry layer is fetched only
// when the builder opens it.
func (w *blobWalker) image(img v1.Image, d v1.Descriptor, raw []byte) error {
	if w.seen[d.Digest] {
		return nil
	}
	if err := w.manifest(d, raw); err != nil {
		return err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("image %s: manifest %s: %w", w.src, d.Digest, err)
	}
	if !w.seen[m.Config.Digest] {
		src, cd := w.src, m.Config.Digest
		w.add(Blob{
			Digest:    m.Config.Digest,
			Size:      m.Config.Size,
			MediaType: string(m.Config.MediaType),
			Open: func() (io.ReadCloser, error) {
				b, err := img.RawConfigFile()
				if err != nil {
					return nil, fmt.Errorf("image %s: config %s: %w", src, cd, err)
				}
				return io.NopCloser(bytes.NewReader(b)), nil
			},
		})
	}
	for _, ld := range m.Layers {
		if w.seen[ld.Digest] {
			continue
		}
		layer, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return fmt.Errorf("image %s: layer %s: %w", w.src, ld.Digest, err)
		}
		open, checked := layerOpener(w.src, ld.Digest, layer), false
		switch {
		case !ld.MediaType.IsDistributable():
			if err := probeForeign(w.src, ld, open); err != nil {
				return err
			}
		case w.fetch != nil:
			open, checked = w.fetch(ld), true
		}
		w.add(Blob{Digest: ld.Digest, Size: ld.Size, MediaType: string(ld.MediaType), Open: open, Checked: checked})
	}
	return nil
}

// layerOpener opens a layer's content exactly as stored (compressed),
// which is what its digest in the manifest covers.
func layerOpener(src string, h v1.Hash, layer v1.Layer) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, err := layer.Compressed()
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %s: %w", src, h, err)
		}
		return rc, nil
	}
}

// probeForeign checks that a non-distributable (foreign) layer's content
// can be read. Registries often do not hold such layers and the URLs they
// name are unreachable from an air-gapped host, so a bundle without the
// content would not install; better to fail while still connected.
func probeForeign(src string, ld v1.Descriptor, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err == nil {
		var b [1]byte
		_, err = rc.Read(b[:])
		if errors.Is(err, io.EOF) && ld.Size == 0 {
			err = nil
		}
		rc.Close()
	}
	if err != nil {
		kind := "non-distributable"
		if ld.MediaType == types.DockerForeignLayer {
			kind = "foreign"
		}
		return fmt.Errorf("image %s: %s layer %s (%s) is not available from the source, so it cannot be bundled; provide an image that carries its content: %w",
			src, kind, ld.Digest, ld.MediaType, err)
	}
	return nil
}

// rawDescriptor describes manifest bytes by their own digest and size.
func rawDescriptor(mt types.MediaType, raw []byte) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(raw)) // reading from memory cannot fail
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}
}
