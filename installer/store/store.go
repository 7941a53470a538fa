// Package store is the appliance's content store: one OCI image layout
// shared by every release. Image blobs and every other piece of installed
// content (files, charts, migrations) live in blobs/sha256/ under their
// content digest, so content shared by releases is stored once, and the
// appliance's registry serves images straight from the layout.
//
// The layout is valid on disk at every instant: blobs and index.json only
// ever appear by rename of a complete, fsync'd temporary file, and
// temporary files never carry a blob's name.
//
// The store does not serialise writers across processes. Put and SetRefs
// are safe to call concurrently, but GC removes whatever is not kept, so it
// must run only under the appliance's single-writer lock.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ferry/internal/atomicfile"
	"ferry/internal/oci"
)

const (
	layoutFile    = "oci-layout"
	indexFile     = "index.json"
	blobsDir      = "blobs/sha256"
	layoutVersion = "1.0.0"
)

// Store is an OCI image layout directory holding the appliance's content.
type Store struct {
	dir string
}

// Open opens the layout at dir. With create, a missing or empty dir is made
// into an empty layout (as is one whose creation was interrupted); without
// it, dir must already be a layout. A dir holding anything else is refused
// with ErrNotLayout rather than written into.
//
// Open removes temporary files left by a writer that crashed; files still
// being written by a live Put or SetRefs are left alone.
func Open(dir string, create bool) (*Store, error) {
	s := &Store{dir: dir}
	ok, err := s.isLayout()
	if err != nil {
		return nil, err
	}
	if !ok {
		if !create {
			return nil, fmt.Errorf("content store %s: %w (oci-layout is missing)", dir, ErrNotLayout)
		}
		if err := s.create(); err != nil {
			return nil, err
		}
	}
	if err := s.checkLayout(create); err != nil {
		return nil, err
	}
	// Leftovers are inert (no blob name, never served), so failing to
	// remove them, e.g. in a reader without write permission, is no reason
	// to refuse the store; GC reports such failures.
	_, _ = removeStaleTemps(s.dir)
	_, _ = removeStaleTemps(s.blobDir())
	return s, nil
}

// Dir returns the layout's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the path of the blob file for digest, whether or not the
// blob is present.
func (s *Store) Path(digest string) (string, error) {
	hex, err := parseDigest(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.blobDir(), hex), nil
}

// Has reports whether the blob with digest is in the store.
func (s *Store) Has(digest string) (bool, error) {
	p, err := s.Path(digest)
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("blob %s: %w", digest, err)
	case !fi.Mode().IsRegular():
		return false, fmt.Errorf("blob %s: %s is not a regular file (%s)", digest, p, fi.Mode().Type())
	}
	return true, nil
}

// Open opens the blob with digest for reading. A blob that is not in the
// store is ErrNotFound. The content is not re-hashed here; callers that
// must trust it hash what they read (see Check).
func (s *Store) Open(digest string) (*os.File, error) {
	p, err := s.Path(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", digest, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", p, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w", digest, err)
	}
	return f, nil
}

func (s *Store) blobDir() string { return filepath.Join(s.dir, blobsDir) }

// isLayout reports whether dir holds an oci-layout file of the version
// this store writes. A missing file is (false, nil); a malformed or foreign
// one is ErrNotLayout, because writing into it could damage someone's data.
func (s *Store) isLayout() (bool, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, layoutFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("content store %s: %w", s.dir, err)
	}
	var l struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return false, fmt.Errorf("content store %s: %w: oci-layout: %w", s.dir, ErrNotLayout, err)
	}
	if l.ImageLayoutVersion != layoutVersion {
		return false, fmt.Errorf("content store %s: %w: oci-layout has version %q, want %q",
			s.dir, ErrNotLayout, l.ImageLayoutVersion, layoutVersion)
	}
	return true, nil
}

// create makes dir an empty layout. oci-layout is written last, so a
// directory is a layout only once blobs/sha256/ and index.json are there;
// a creation cut short by a crash leaves a directory holding only those,
// which create accepts and completes.
func (s *Store) create() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content store %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "blobs" && n != indexFile && !isTempName(n) {
			return fmt.Errorf("content store %s: %w: the directory is not empty (it holds %s)", s.dir, ErrNotLayout, n)
		}
	}
	if err := os.MkdirAll(s.blobDir(), 0o755); err != nil {
		return fmt.Errorf("content store %s: %w", s.dir, err)
	}
	if err := syncDir(filepath.Join(s.dir, "blobs")); err != nil {
		return fmt.Errorf("content store %s: %w", s.dir, err)
	}
	if _, err := os.Lstat(filepath.Join(s.dir, indexFile)); errors.Is(err, fs.ErrNotExist) {
		if err := s.writeIndex(nil); err != nil {
			return err
		}
	}
	layout := []byte(`{"imageLayoutVersion":"` + layoutVersion + `"}`)
	if err := writeFileAtomic(s.dir, layoutFile, layout); err != nil {
		return fmt.Errorf("content store %s: %w", s.dir, err)
	}
	return syncDir(filepath.Dir(filepath.Clean(s.dir)))
}

// checkLayout makes sure the rest of the layout is present. A writer
// repairs what a crash during creation may have left missing; a reader
// refuses it.
func (s *Store) checkLayout(repair bool) error {
	// Blobs are written into blobs/sha256/ by name: a symlink planted for
	// either directory would send them, and reads of them, elsewhere.
	for _, d := range []string{"blobs", blobsDir} {
		if fi, err := os.Lstat(filepath.Join(s.dir, d)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("content store %s: %w: %s is a symlink; the store writes only into its own directories: move it away", s.dir, atomicfile.ErrLinkInPath, d)
		}
	}
	fi, err := os.Stat(s.blobDir())
	if errors.Is(err, fs.ErrNotExist) && repair {
		if err = os.MkdirAll(s.blobDir(), 0o755); err == nil {
			fi, err = os.Stat(s.blobDir())
		}
	}
	if err != nil {
		return fmt.Errorf("content store %s: %w: %w", s.dir, ErrNotLayout, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("content store %s: %w: %s is not a directory", s.dir, ErrNotLayout, blobsDir)
	}
	_, err = os.Stat(filepath.Join(s.dir, indexFile))
	if errors.Is(err, fs.ErrNotExist) && repair {
		err = s.writeIndex(nil)
	}
	if err != nil {
		return fmt.Errorf("content store %s: %w: %w", s.dir, ErrNotLayout, err)
	}
	return nil
}

// parseDigest returns the hex part of a "sha256:<64 lowercase hex>"
// digest. The check is strict because the hex becomes a file name.
func parseDigest(digest string) (string, error) {
	if !oci.ValidDigest(digest) {
		return "", fmt.Errorf("%w: %q is not sha256:<64 lowercase hex digits>", ErrInvalidDigest, digest)
	}
	return oci.Digest(digest).Hex(), nil
}
