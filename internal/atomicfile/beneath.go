package atomicfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrLinkInPath reports a symlink, or something other than a directory,
// where a write beneath a root expects a directory: ferry writes only
// through directories, so that nothing planted inside the root can
// redirect a write elsewhere.
var ErrLinkInPath = errors.New("a symlink or non-directory is in the path")

// WriteBeneath is Write for name, a slash path relative to root, made so
// that the write stays beneath root: every directory on the way is opened
// through root (an os.Root, which never resolves a path outside it) and
// must be a real directory, not a symlink, or ErrLinkInPath is returned;
// missing ones are made with mode 0755. A symlink at name itself is
// replaced, never followed.
func WriteBeneath(root *os.Root, name string, mode os.FileMode, fill func(io.Writer) error) error {
	dir, base := path.Split(name)
	d, err := OpenDirBeneath(root, strings.TrimSuffix(dir, "/"))
	if err != nil {
		return err
	}
	defer d.Close()
	var tmp *os.File
	var tmpName string
	for range 8 {
		tmpName = TempPrefix + rand.Text()
		tmp, err = d.OpenFile(tmpName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(root.Name(), name), err)
	}
	placed := false
	defer func() {
		if !placed {
			tmp.Close()
			d.Remove(tmpName)
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(root.Name(), name), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := d.Rename(tmpName, base); err != nil {
		return err
	}
	placed = true
	f, err := d.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// OpenDirBeneath opens dir, a slash path relative to root ("" or "." for
// root itself), as a root of its own, making missing directories (mode
// 0755) and refusing, with ErrLinkInPath, any element that is a symlink
// or not a directory.
func OpenDirBeneath(root *os.Root, dir string) (*os.Root, error) {
	cur, err := root.OpenRoot(".")
	if err != nil {
		return nil, err
	}
	if dir == "" || dir == "." {
		return cur, nil
	}
	walked := ""
	for _, elem := range strings.Split(dir, "/") {
		walked = path.Join(walked, elem)
		fi, err := cur.Lstat(elem)
		if errors.Is(err, fs.ErrNotExist) {
			if err = cur.Mkdir(elem, 0o755); err == nil || errors.Is(err, fs.ErrExist) {
				fi, err = cur.Lstat(elem)
			}
		}
		if err == nil && !fi.IsDir() {
			err = fmt.Errorf("%w: %s under %s is a %s, not a directory; remove it (ferry makes its own directories)", ErrLinkInPath, walked, root.Name(), describe(fi.Mode()))
		}
		var next *os.Root
		if err == nil {
			next, err = cur.OpenRoot(elem)
		}
		cur.Close()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

func describe(m fs.FileMode) string {
	if m&fs.ModeSymlink != 0 {
		return "symlink"
	}
	return "file"
}
