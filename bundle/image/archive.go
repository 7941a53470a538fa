package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// openArchive opens the image REF (a tag in the archive's RepoTags)
// names in a docker save tarball; without REF the archive must hold exactly
// one image.
//
// A docker save archive has no registry manifest, so go-containerregistry
// builds one (Docker schema 2) and that is what the bundle stores. Layers the
// archive holds gzip-compressed keep their bytes and digests. Layers it holds
// uncompressed, as docker save writes them, are gzip-compressed by
// go-containerregistry at BestSpeed with an empty gzip header: the output
// depends only on the layer bytes and the Go compress/flate implementation,
// so resolving the same archive twice gives the same digests, and every
// Blob.Open yields the bytes the manifest's digest covers. Computing
// those digests means compressing every such layer once here, and again on
// each Open. A different Go release may compress differently, giving the
// same archive different layer digests in a later build.
func openArchive(src, path, ref, served string) (*opened, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("image %s: %w: %w", src, errNotFound, err)
		}
		return nil, fmt.Errorf("image %s: not a docker save archive: %w", src, err)
	}
	if err := archiveCheckSizes(path); err != nil {
		return nil, fmt.Errorf("image %s: %w: %w", src, errSource, err)
	}

	var (
		tag   *name.Tag
		found *tarball.Descriptor
	)
	if ref != "" {
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w: %q is not a tag: %w", src, errSource, ref, err)
		}
		tag = &t
		found = archiveFind(m, t)
		if found == nil {
			return nil, fmt.Errorf("image %s: %w: no image tagged %q in the archive (tags: %s)",
				src, errNotFound, ref, archiveTags(m))
		}
	} else {
		switch len(m) {
		case 1:
			found = &m[0]
		case 0:
			return nil, fmt.Errorf("image %s: %w: the archive holds no images", src, errNotFound)
		default:
			return nil, fmt.Errorf("image %s: %w: the archive holds %d images; choose one with docker-archive:FILE:TAG (tags: %s)",
				src, errSource, len(m), archiveTags(m))
		}
	}

	img, err := tarball.Image(opener, tag)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", src, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", src, err)
	}
	if served == "" {
		if served, err = archiveName(path, ref, found); err != nil {
			return nil, fmt.Errorf("image %s: %w", src, err)
		}
	}
	return &opened{name: served, desc: rawDescriptor(mt, raw), raw: raw, image: img}, nil
}

// archiveCheckSizes refuses an archive holding an entry larger than
// the archive itself. Only a sparse entry can be one: tar records its holes
// instead of storing them, so a header of a few hundred bytes can stand for
// gigabytes, which go-containerregistry would read into memory whole (a
// config) or compress (a layer). docker save writes no sparse files. An
// archive the scan cannot read is left to go-containerregistry to refuse;
// it reads the same headers, so it cannot reach the entries after one that
// stops the scan.
func archiveCheckSizes(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return nil
		}
		if hdr.Size > fi.Size() {
			return fmt.Errorf("entry %q is %d bytes, more than the %d-byte archive holds (a sparse file?)", hdr.Name, hdr.Size, fi.Size())
		}
	}
}

// archiveFind finds the image a tag names, comparing resolved names
// since "nginx" and "docker.io/library/nginx:latest" are the same tag.
func archiveFind(m tarball.Manifest, t name.Tag) *tarball.Descriptor {
	for i := range m {
		for _, rt := range m[i].RepoTags {
			if have, err := name.NewTag(rt); err == nil && have.Name() == t.Name() {
				return &m[i]
			}
		}
	}
	return nil
}

// archiveTags lists the archive's tags for error messages.
func archiveTags(m tarball.Manifest) string {
	var tags []string
	for i, d := range m {
		if len(d.RepoTags) == 0 {
			tags = append(tags, fmt.Sprintf("image %d untagged", i+1))
		}
		tags = append(tags, d.RepoTags...)
	}
	if len(tags) == 0 {
		return "none"
	}
	return strings.Join(tags, ", ")
}

// archiveName names an archive image that has no name in the spec: the
// tag REF chose it by, else its first RepoTag, else the file's name without
// its extension.
func archiveName(path, ref string, d *tarball.Descriptor) (string, error) {
	if ref != "" {
		return ServedName(ref, false)
	}
	if len(d.RepoTags) > 0 {
		return ServedName(d.RepoTags[0], false)
	}
	base := filepath.Base(path)
	if ext := filepath.Ext(base); ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return fallbackName(base, "", "")
}
