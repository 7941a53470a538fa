package atomicfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrDone reports a write to, or a Commit of, a pending file that was
// already committed or aborted.
var ErrDone = errors.New("the pending file was already committed or aborted")

// Pending is a file being written under a temporary name (TempPrefix and
// random letters) in the directory of its final name, where nothing reads
// it. Commit puts it in place whole; Abort removes it. Until Commit
// renames it, the final name keeps its old content or stays absent, so a
// crash, a full disk or an error never leaves a partial file there.
//
// The usual shape:
//
//	p, err := atomicfile.Create(path, 0o644)
//	if err != nil { ... }
//	defer p.Abort()
//	if _, err := p.Write(data); err != nil { ... }
//	return p.Commit()
type Pending struct {
	f       *os.File
	dir     *os.Root // the directory of the final name
	tmp     string   // the temporary name in dir
	base    string   // the final name in dir
	display string   // the final path, for errors
	done    bool     // renamed into place by Commit, or aborted
}

// Create starts a pending file for path with mode. The directory of path
// must exist.
func Create(path string, mode os.FileMode) (*Pending, error) {
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	defer root.Close()
	return create(root, "", filepath.Base(path), mode, path)
}

// CreateBeneath starts a pending file for name, a slash path relative to
// root, that stays beneath root: every directory on the way is opened
// through root (an os.Root, which never resolves a path outside it) and
// must be a real directory, not a symlink, or ErrLinkInPath is returned;
// missing ones are made with mode 0755. A symlink at name itself is
// replaced by Commit, never followed.
func CreateBeneath(root *os.Root, name string, mode os.FileMode) (*Pending, error) {
	dir, base := path.Split(name)
	return create(root, strings.TrimSuffix(dir, "/"), base, mode, filepath.Join(root.Name(), name))
}

// create makes the pending file for base in dir beneath root; display
// names the final path in errors.
func create(root *os.Root, dir, base string, mode os.FileMode, display string) (*Pending, error) {
	d, err := OpenDirBeneath(root, dir)
	if err != nil {
		return nil, err
	}
	var f *os.File
	var tmp string
	for range 8 {
		tmp = TempPrefix + rand.Text()
		f, err = d.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("write %s: %w", display, err)
	}
	// Chmod, not the open's mode: the umask must not change the mode asked
	// for (a blob or a bundle must be readable by others).
	if err := f.Chmod(mode); err != nil {
		f.Close()
		_ = d.Remove(tmp) // best effort, as in Abort
		d.Close()
		return nil, fmt.Errorf("write %s: %w", display, err)
	}
	return &Pending{f: f, dir: d, tmp: tmp, base: base, display: display}, nil
}

// Write writes to the pending file.
func (p *Pending) Write(b []byte) (int, error) {
	if p.done {
		return 0, fmt.Errorf("write %s: %w", p.display, ErrDone)
	}
	return p.f.Write(b)
}

// File is the open pending file, for what Write does not offer (WriteAt,
// Seek, reading back, a lock). It must not be closed or renamed; Commit
// and Abort do that.
func (p *Pending) File() *os.File { return p.f }

// Name is the path of the pending file under its temporary name.
func (p *Pending) Name() string { return p.f.Name() }

// Commit makes the pending file the final one: fsync the file, rename it
// over the final name, close it, fsync the directory so that the rename
// survives a power cut. Every error is returned, including a failed fsync
// of the directory: the caller cannot count on the file being there after
// a crash. Before the rename, a failed Commit leaves the pending file for
// Abort to remove; after it, the file is in place and Abort leaves it. The
// file stays open until after the rename, so that a lock on it (see File)
// covers the rename.
func (p *Pending) Commit() error {
	if p.done {
		return fmt.Errorf("commit %s: %w", p.display, ErrDone)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", p.display, err)
	}
	if err := p.dir.Rename(p.tmp, p.base); err != nil {
		return fmt.Errorf("write %s: %w", p.display, err)
	}
	p.done = true
	err := p.f.Close()
	if err == nil {
		err = syncRoot(p.dir)
	}
	if cerr := p.dir.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p.display, err)
	}
	return nil
}

// Abort removes the pending file. It does nothing after a Commit that
// renamed the file into place, or after an earlier Abort, so that it can
// always be deferred. It is a cleanup on a path that already failed or
// gave up, so it returns no error: no caller could do more than drop it.
// A temporary file it fails to remove keeps its TempPrefix name, where
// nothing reads it and the sweeps of the store and the state find it.
func (p *Pending) Abort() {
	if p.done {
		return
	}
	p.done = true
	p.f.Close()
	_ = p.dir.Remove(p.tmp)
	p.dir.Close()
}

// syncRoot fsyncs the directory d.
func syncRoot(d *os.Root) error {
	f, err := d.Open(".")
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", d.Name(), err)
	}
	return nil
}
