package kube

import (
	"ferry/bundle"
	"ferry/bundle/image"
	"ferry/internal/oci"
)

// match finds the bundle's image a chart's reference names, by the names
// ferry serves images under (image.ServedName): the registry host is
// dropped, and a short name is read first as Docker Hub reads it
// ("nginx:1.25" is "library/nginx:1.25") and then as written, which is
// how a spec's own name: or an archive's tag is kept. A reference with a
// digest matches only an image with that digest (as stored, or as at its
// source before platform selection); one with only a tag matches the
// image of that repository and tag; one with neither means "latest".
func (p *Pinner) match(ref string) (bundle.Image, bool) {
	for _, hub := range []bool{true, false} {
		served, err := image.ServedName(ref, hub)
		if err != nil {
			continue
		}
		want, err := oci.ParseRefName(served)
		if err != nil {
			continue
		}
		for _, img := range p.Images {
			have, err := oci.ParseRefName(img.Name)
			if err != nil || have.Repository != want.Repository {
				continue
			}
			if want.Digest != "" {
				if want.Digest == img.Digest || want.Digest == img.SourceDigest || want.Digest == have.Digest {
					return img, true
				}
				continue
			}
			if have.Tag != "" && have.Tag == want.Tag {
				return img, true
			}
		}
	}
	return bundle.Image{}, false
}
