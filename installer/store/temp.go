package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the name of every temporary file. A blob's name is 64
// hex digits, so no temporary file can ever be taken for a blob, served or
// hashed as one.
const tempPrefix = ".tmp-"

// errLocked reports that another open file holds a temporary file's lock.
var errLocked = errors.New("file is locked")

func isTempName(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// createTemp creates a new temporary file in dir (O_EXCL, mode 0644) and
// holds an exclusive lock on it for as long as it is open. The lock is what
// tells a file being written apart from one a crashed writer left behind:
// removeStaleTemps removes only files it can lock, and the kernel releases
// a dead process's locks.
func createTemp(dir string) (*os.File, error) {
	for range 8 {
		name := filepath.Join(dir, tempPrefix+rand.Text())
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := lockFile(f, false); err != nil {
			f.Close()
			os.Remove(name)
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		// A cleaner may have locked and removed the file in the instant
		// between its creation and our lock; then start over.
		if !stillNamed(f, name) {
			f.Close()
			continue
		}
		// The umask must not make blobs unreadable to a registry running
		// as another user.
		if err := f.Chmod(0o644); err != nil {
			discardTemp(f)
			return nil, err
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot create a temporary file in %s: names keep colliding", dir)
}

// discardTemp closes and removes a temporary file that will not be renamed
// into place.
func discardTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
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

// writeFileAtomic replaces dir/name with data: temporary file, fsync,
// rename, fsync of the directory. Readers see the old content or the new,
// never a mix, and a crash leaves one of the two.
func writeFileAtomic(dir, name string, data []byte) error {
	f, err := createTemp(dir)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		discardTemp(f)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		discardTemp(f)
		return fmt.Errorf("write %s: fsync: %w", name, err)
	}
	// Rename while the lock is held, so no cleaner can take the file for a
	// leftover; the lock goes with the inode under its new name and is
	// released by Close.
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		discardTemp(f)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
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
