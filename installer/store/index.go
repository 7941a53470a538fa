package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"ferry/internal/oci"
)

// Media types a top-level image descriptor may have: what the registry can
// serve as a manifest.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// Ref is one image name in index.json: the name the registry serves the
// image under and the descriptor of its top-level manifest or index.
type Ref struct {
	Name      string // with its tag, without a registry host: "wf/api:1.4.0"
	Digest    string
	MediaType string
	Size      int64
	// Annotations are the descriptor's other annotations. The ref.name
	// annotation is always Name; it is not repeated here.
	Annotations map[string]string
}

// descriptor and index are the parts of the OCI image index the store
// reads and writes.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []descriptor `json:"manifests"`
}

// Refs returns the image names in index.json, sorted by name.
func (s *Store) Refs() ([]Ref, error) {
	p := filepath.Join(s.dir, indexFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("content store index: %w", err)
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("content store index %s: %w", p, err)
	}
	refs := make([]Ref, 0, len(idx.Manifests))
	for i, d := range idx.Manifests {
		name := d.Annotations[oci.RefNameAnnotation]
		if name == "" {
			return nil, fmt.Errorf("content store index %s: descriptor %d (%s) has no %s annotation", p, i, d.Digest, oci.RefNameAnnotation)
		}
		if _, err := parseDigest(d.Digest); err != nil {
			return nil, fmt.Errorf("content store index %s: image %s: %w", p, name, err)
		}
		var ann map[string]string
		if len(d.Annotations) > 1 {
			ann = maps.Clone(d.Annotations)
			delete(ann, oci.RefNameAnnotation)
		}
		refs = append(refs, Ref{Name: name, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Annotations: ann})
	}
	slices.SortStableFunc(refs, func(a, b Ref) int { return cmp.Compare(a.Name, b.Name) })
	return refs, nil
}

// SetRefs replaces index.json with refs, sorted by name. It refuses
// (ErrInvalidRef) a malformed or duplicated name or media type, and
// (ErrNotFound, ErrSizeMismatch) a ref whose top-level blob is not stored
// with its size, so that every name the registry serves resolves. The
// blobs the top-level manifest names are the caller's to have stored
// first.
//
// The replacement is atomic (temporary file, fsync, rename, directory
// fsync): readers see the old index or the new one, and a failed SetRefs
// leaves the old one in place.
func (s *Store) SetRefs(refs []Ref) error {
	sorted := slices.Clone(refs)
	slices.SortStableFunc(sorted, func(a, b Ref) int { return cmp.Compare(a.Name, b.Name) })
	for i, r := range sorted {
		if i > 0 && sorted[i-1].Name == r.Name {
			return fmt.Errorf("set image names: %w: %q is given twice (%s and %s)", ErrInvalidRef, r.Name, sorted[i-1].Digest, r.Digest)
		}
		if err := s.checkRef(r); err != nil {
			return fmt.Errorf("set image names: image %s: %w", r.Name, err)
		}
	}
	return s.writeIndex(sorted)
}

// checkRef validates one ref against the store.
func (s *Store) checkRef(r Ref) error {
	if !validRefName(r.Name) {
		return fmt.Errorf("%w: the name %q is not a valid OCI reference name", ErrInvalidRef, r.Name)
	}
	if v, ok := r.Annotations[oci.RefNameAnnotation]; ok && v != r.Name {
		return fmt.Errorf("%w: its %s annotation is %q", ErrInvalidRef, oci.RefNameAnnotation, v)
	}
	switch r.MediaType {
	case MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerList:
	default:
		return fmt.Errorf("%w: media type %q is not an image manifest or index", ErrInvalidRef, r.MediaType)
	}
	p, err := s.Path(r.Digest)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("blob %s: %w", r.Digest, ErrNotFound)
	case err != nil:
		return fmt.Errorf("blob %s: %w", r.Digest, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("blob %s: %s is not a regular file (%s)", r.Digest, p, fi.Mode().Type())
	case fi.Size() != r.Size:
		return fmt.Errorf("blob %s: %w: stored with %d bytes, the ref says %d", r.Digest, ErrSizeMismatch, fi.Size(), r.Size)
	}
	return nil
}

// writeIndex atomically writes index.json holding refs in the given order.
func (s *Store) writeIndex(refs []Ref) error {
	idx := index{SchemaVersion: 2, MediaType: MediaTypeOCIIndex, Manifests: []descriptor{}}
	for _, r := range refs {
		ann := maps.Clone(r.Annotations)
		if ann == nil {
			ann = make(map[string]string, 1)
		}
		ann[oci.RefNameAnnotation] = r.Name
		idx.Manifests = append(idx.Manifests, descriptor{MediaType: r.MediaType, Digest: r.Digest, Size: r.Size, Annotations: ann})
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("content store index: %w", err)
	}
	if err := writeFileAtomic(s.dir, indexFile, b); err != nil {
		return fmt.Errorf("content store %s: %w", s.dir, err)
	}
	return nil
}

// validRefName reports whether name follows the OCI grammar for the
// ref.name annotation: components of letters and digits joined by
// separators (-._:@+), separated by slashes.
func validRefName(name string) bool {
	if name == "" || len(name) > 4096 {
		return false
	}
	start := true // at the start of a component
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			start = false
		case c == '/':
			if start {
				return false
			}
			start = true
		case c == '-' || c == '.' || c == '_' || c == ':' || c == '@' || c == '+':
			if start || i == len(name)-1 || name[i+1] == '/' {
				return false
			}
		default:
			return false
		}
	}
	return !start
}
