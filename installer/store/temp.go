package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"ferry/internal/atomicfile"
)

// tempPrefix starts the name of every temporary file: atomicfile's, for
// the store writes through it. A blob's name is 64 hex digits, so no
// temporary file can ever be taken for a blob, served or hashed as one.
const tempPrefix = atomicfile.TempPrefix

// oldTempPrefix started temporary files before the store wrote through
// atomicfile; a crash of an older ferry may have left some.
const oldTempPrefix = ".tmp-"

// errLocked reports that another open file holds a temporary file's lock.
var errLocked = errors.New("file is locked")

func isTempName(name string) bool {
	return strings.HasPrefix(name, tempPrefix) || strings.HasPrefix(name, oldTempPrefix)
}

// createTemp starts a pending file for dir/name (mode 0644, so that a
// registry running as another user can read it) and holds an exclusive
// lock on it until Commit or Abort closes it. The lock is what tells a file
// being written apart from one a crashed writer left behind:
// removeStaleTemps removes only files it can lock, and the kernel releases
// a dead process's locks. Commit renames the file while the lock is held,
// so no cleaner can take it for a leftover.
func createTemp(dir, name string) (*atomicfile.Pending, error) {
	for range 8 {
		p, err := atomicfile.Create(filepath.Join(dir, name), 0o644)
		if err != nil {
			return nil, err
		}
		if err := lockFile(p.File(), false); err != nil {
			p.Abort()
			return nil, fmt.Errorf("lock %s: %w", p.Name(), err)
		}
		// A cleaner may have locked and removed the file in the instant
		// between its creation and our lock; then start over.
		if !stillNamed(p.File(), p.Name()) {
			p.Abort()
			continue
		}
		return p, nil
	}
	return nil, fmt.Errorf("cannot create a temporary file in %s: names keep colliding", dir)
}

// stillNamed reports whether name still refers to the open file f.
func stillNamed(f *os.File, name string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(name)
	return err == nil && os.SameFile(a, b)
}

// removeStaleTemps removes the temporary files in dir that no live writer
// holds: leftovers of a crash. It returns the names removed.
func removeStaleTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !isTempName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		ok, err := removeIfStale(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("remove leftover %s: %w", name, err))
		}
		if ok {
			removed = append(removed, e.Name())
		}
	}
	return removed, errors.Join(errs...)
}

// removeIfStale removes the temporary file name unless a writer holds its
// lock.
func removeIfStale(name string) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // finished or removed meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := lockFile(f, true); err != nil {
		if errors.Is(err, errLocked) {
			return false, nil
		}
		return false, err
	}
	if !stillNamed(f, name) {
		return false, nil
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// writeFileAtomic replaces dir/name with data through a pending file
// (see createTemp): readers see the old content or the new, never a mix,
// and a crash leaves one of the two.
func writeFileAtomic(dir, name string, data []byte) error {
	p, err := createTemp(dir, name)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer p.Abort()
	if _, err := p.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return p.Commit()
}

// syncDir makes renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
