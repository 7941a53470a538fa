package registry

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"ferry/internal/oci"
)

// maxIndexSize bounds how much of index.json the registry reads. The index
// holds one short descriptor per image, so even a store of many thousands of
// images stays far below it; a larger file means something is wrong.
const maxIndexSize = 64 << 20

// store is the registry's read-only view of the content store. Another
// process replaces index.json (write to a temporary file, then rename) when it
// installs or removes images, so the store looks at the file on every request
// and rebuilds its snapshot when a different file is in place. Like every
// OCI layout writer, that process stores an image's blobs before index.json
// names it; a manifest missing when the snapshot is built stays unserved
// until index.json next changes.
type store struct {
	dir string
	log *slog.Logger

	mu   sync.Mutex
	info os.FileInfo // the index.json snap was built from
	snap *snapshot
}

func (s *store) blobPath(digest string) string {
	// digest has been checked by parseDigest: "sha256:" and 64 hex digits.
	return filepath.Join(s.dir, "blobs", "sha256", oci.Digest(digest).Hex())
}

// current returns the snapshot of the index.json in place now. Checking
// costs an open and a stat; rebuilding happens only after the writer renamed
// a new index into place, and runs once while concurrent requests wait for it.
func (s *store) current() (*snapshot, error) {
	f, err := os.Open(filepath.Join(s.dir, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		// Nothing installed yet: a registry with no repositories.
		return &snapshot{repos: map[string]*repository{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open content store index: %w", err)
	}
	defer f.Close()
	// The open file, not the path, is what is compared and read, so a rename
	// between the two cannot pair one file's identity with another's content.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat content store index: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil && os.SameFile(fi, s.info) && fi.ModTime().Equal(s.info.ModTime()) && fi.Size() == s.info.Size() {
		return s.snap, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if len(data) > maxIndexSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Name(), maxIndexSize)
	}
	snap, err := buildSnapshot(filepath.Join(s.dir, "blobs", "sha256"), data, s.log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	s.snap, s.info = snap, fi
	return snap, nil
}
