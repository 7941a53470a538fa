package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"ferry/internal/oci"
)

// maxManifestSize bounds what GC reads of a manifest or index to find the
// blobs it references; registries commonly refuse manifests over 4 MiB.
const maxManifestSize = 4 << 20

// GC removes every blob that is neither in keep (a set of digests) nor
// referenced from index.json, directly or through the manifests and
// indexes it names, and every temporary file a crashed writer left. It
// returns the digests of the blobs removed, sorted, and the bytes freed
// (leftovers included). Files in blobs/sha256/ that are neither blobs nor
// temporary files are not the store's, and are left alone.
//
// Walking the images from index.json keeps the layout valid whatever keep
// says. If a manifest cannot be read or parsed, GC removes nothing rather
// than guess what it references.
//
// GC must run under the appliance's single-writer lock: a blob another
// writer is storing at the same time is not in keep and would be removed.
func (s *Store) GC(keep map[string]bool) (removed []string, freed int64, err error) {
	live, err := s.referenced()
	if err != nil {
		return nil, 0, fmt.Errorf("content store gc: %w", err)
	}
	entries, err := os.ReadDir(s.blobDir())
	if err != nil {
		return nil, 0, fmt.Errorf("content store gc: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(s.blobDir(), name)
		switch {
		case isTempName(name):
			size := fileSize(e)
			ok, err := removeIfStale(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("remove leftover %s: %w", path, err))
			}
			if ok {
				freed += size
			}
		case oci.ValidHex(name):
			digest := oci.FromHex(name).String()
			if keep[digest] || live[digest] {
				continue
			}
			size := fileSize(e)
			if err := os.Remove(path); err != nil {
				errs = append(errs, fmt.Errorf("remove blob %s: %w", digest, err))
				continue
			}
			removed = append(removed, digest)
			freed += size
		}
	}
	if _, err := removeStaleTemps(s.dir); err != nil {
		errs = append(errs, err)
	}
	if err := syncDir(s.blobDir()); err != nil {
		errs = append(errs, err)
	}
	slices.Sort(removed)
	if err := errors.Join(errs...); err != nil {
		return removed, freed, fmt.Errorf("content store gc: %w", err)
	}
	return removed, freed, nil
}

func fileSize(e os.DirEntry) int64 {
	if fi, err := e.Info(); err == nil {
		return fi.Size()
	}
	return 0
}

// referenced returns the digests index.json reaches: each image's
// top-level manifest or index, its child manifests, configs, layers and
// subject.
func (s *Store) referenced() (map[string]bool, error) {
	refs, err := s.Refs()
	if err != nil {
		return nil, err
	}
	live := make(map[string]bool)
	for _, r := range refs {
		if err := s.walk(r.Digest, live); err != nil {
			return nil, fmt.Errorf("image %s: %w", r.Name, err)
		}
	}
	return live, nil
}

// walk marks the manifest or index with digest and everything it
// references. A missing manifest has nothing left to protect below it.
func (s *Store) walk(digest string, live map[string]bool) error {
	if live[digest] {
		return nil
	}
	live[digest] = true
	b, err := s.readManifest(digest)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var m struct {
		Config    *descriptor  `json:"config"`
		Layers    []descriptor `json:"layers"`
		Blobs     []descriptor `json:"blobs"`
		Manifests []descriptor `json:"manifests"`
		Subject   *descriptor  `json:"subject"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("manifest %s: %w", digest, err)
	}
	if m.Config != nil {
		live[m.Config.Digest] = true
	}
	for _, d := range slices.Concat(m.Layers, m.Blobs) {
		live[d.Digest] = true
	}
	for _, d := range m.Manifests {
		if err := s.walk(d.Digest, live); err != nil {
			return err
		}
	}
	if m.Subject != nil {
		return s.walk(m.Subject.Digest, live)
	}
	return nil
}

// readManifest reads a manifest or index blob, bounded by maxManifestSize
// and checked against its digest: GC decides what to delete from it, so it
// must not trust a file changed on disk.
func (s *Store) readManifest(digest string) ([]byte, error) {
	want, err := parseDigest(digest)
	if err != nil {
		return nil, err
	}
	f, err := s.Open(digest)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", digest, err)
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("manifest %s: larger than %d bytes", digest, maxManifestSize)
	}
	if oci.FromBytes(b).Hex() != want {
		return nil, fmt.Errorf("manifest %s: %w: it changed on disk; run a check", digest, ErrDigestMismatch)
	}
	return b, nil
}
