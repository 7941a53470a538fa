package image

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"ferry/internal/oci"
)

// openLayout opens the image REF names in the OCI image layout at dir.
// REF is a ref.name annotation or a digest; without it the layout must hold
// exactly one image, as skopeo requires.
func openLayout(src, dir, ref, served string) (*opened, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("image %s: %w: no OCI image layout at %s (index.json is missing)", src, errNotFound, dir)
		}
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("image %s: index.json: %w", src, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image %s: index.json: %w", src, err)
	}
	d, err := layoutSelect(im.Manifests, ref)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}

	root := &opened{name: served, desc: d}
	switch {
	case d.MediaType.IsImage():
		if root.image, err = ii.Image(d.Digest); err == nil {
			root.raw, err = root.image.RawManifest()
		}
	case d.MediaType.IsIndex():
		if root.index, err = ii.ImageIndex(d.Digest); err == nil {
			root.raw, err = root.index.RawManifest()
		}
	default:
		return nil, fmt.Errorf("image %s: %w: index.json entry %s has media type %q, not an image manifest or index",
			src, errSource, d.Digest, d.MediaType)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %s: %w", src, d.Digest, err)
	}
	if root.name == "" {
		if root.name, err = layoutName(dir, ref, d); err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
	}
	return root, nil
}

// layoutSelect picks the index.json entry REF names.
func layoutSelect(ds []v1.Descriptor, ref string) (v1.Descriptor, error) {
	if ref == "" {
		switch len(ds) {
		case 1:
			return ds[0], nil
		case 0:
			return v1.Descriptor{}, fmt.Errorf("%w: the layout holds no images", errNotFound)
		}
		return v1.Descriptor{}, fmt.Errorf("%w: the layout holds %d images; choose one with oci:DIR:REF (refs: %s)",
			errSource, len(ds), layoutRefs(ds))
	}
	var found []v1.Descriptor
	byDigest := strings.HasPrefix(ref, "sha256:")
	for _, d := range ds {
		if (byDigest && d.Digest.String() == ref) || (!byDigest && d.Annotations[oci.RefNameAnnotation] == ref) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return v1.Descriptor{}, fmt.Errorf("%w: no image %q in the layout (refs: %s)", errNotFound, ref, layoutRefs(ds))
	case 1:
		return found[0], nil
	}
	if byDigest {
		return found[0], nil // the same content listed twice
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %d images in the layout are named %q; choose one by digest (refs: %s)",
		errSource, len(found), ref, layoutRefs(ds))
}

// layoutRefs lists the entries of index.json by ref name, or by digest
// where they have none, for error messages.
func layoutRefs(ds []v1.Descriptor) string {
	if len(ds) == 0 {
		return "none"
	}
	refs := make([]string, len(ds))
	for i, d := range ds {
		refs[i] = d.Annotations[oci.RefNameAnnotation]
		if refs[i] == "" {
			refs[i] = d.Digest.String()
		}
	}
	return strings.Join(refs, ", ")
}

// layoutName names a layout image that has no name in the spec: the
// ref.name annotation when it is a full name, else containerd's image name
// annotation (buildkit's OCI exporter writes the full name there and only
// the tag in ref.name), else the directory's name with the ref.name as tag,
// the digest REF selected it by, or "latest".
func layoutName(dir, ref string, d v1.Descriptor) (string, error) {
	refName := d.Annotations[oci.RefNameAnnotation]
	if isFullName(refName) {
		return ServedName(refName, false)
	}
	if cn := d.Annotations[containerdNameAnnotation]; isFullName(cn) {
		return ServedName(cn, false)
	}
	digest := ""
	if refName == "" && strings.HasPrefix(ref, "sha256:") {
		digest = ref
	}
	return fallbackName(filepath.Base(filepath.Clean(dir)), refName, digest)
}
