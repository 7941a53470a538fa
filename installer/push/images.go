package push

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/internal/oci"
)

// storeImage is one named image of the store.
type storeImage struct {
	name string
	desc v1.Descriptor
}

// readImages returns the images named in the store's index.json, root, in the
// order of want, or in the index's order when want is empty. A wanted name
// the store does not have is an error, before anything is pushed.
func readImages(root v1.ImageIndex, dir string, want []string) ([]storeImage, error) {
	im, err := root.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("content store %s: index.json: %w", dir, err)
	}
	var all []storeImage
	byName := make(map[string]storeImage, len(im.Manifests))
	for i, d := range im.Manifests {
		n := d.Annotations[oci.RefNameAnnotation]
		if n == "" {
			return nil, fmt.Errorf("content store %s: index.json entry %d (%s) has no %s annotation", dir, i, d.Digest, oci.RefNameAnnotation)
		}
		if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			return nil, fmt.Errorf("content store %s: image %s: media type %q is not an image manifest or index", dir, n, d.MediaType)
		}
		if prev, dup := byName[n]; dup {
			return nil, fmt.Errorf("content store %s: image %s is named twice (%s and %s)", dir, n, prev.desc.Digest, d.Digest)
		}
		si := storeImage{name: n, desc: d}
		byName[n] = si
		all = append(all, si)
	}
	if len(want) == 0 {
		return all, nil
	}
	out := make([]storeImage, 0, len(want))
	seen := make(map[string]bool, len(want))
	for _, n := range want {
		si, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("image %s: not in the content store %s", n, dir)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, si)
		}
	}
	return out, nil
}
