package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// ErrLinkInPath reports a symlink, or something other than a directory,
// where a write beneath a root expects a directory: ferry writes only
// through directories, so that nothing planted inside the root can
// redirect a write elsewhere.
var ErrLinkInPath = errors.New("a symlink or non-directory is in the path")

// WriteBeneath is Write for name, a slash path relative to root, made so
// that the write stays beneath root (see CreateBeneath): a symlinked
// directory on the way is refused with ErrLinkInPath, and a symlink at
// name itself is replaced, never followed.
func WriteBeneath(root *os.Root, name string, mode os.FileMode, fill func(io.Writer) error) error {
	p, err := CreateBeneath(root, name, mode)
	if err != nil {
		return err
	}
	return fillAndCommit(p, fill)
}

// OpenDirBeneath opens dir, a slash path relative to root ("" or "." for
// root itself), as a root of its own, making missing directories (mode
// 0755) and refusing, with ErrLinkInPath, any element that is a symlink
// or not a directory.
func OpenDirBeneath(root *os.Root, dir string) (*os.Root, error) {
	return openDirBeneath(root, dir, true)
}

// OpenExistingDirBeneath is OpenDirBeneath for a directory that must
// already be there: it makes nothing, and a missing element is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func OpenExistingDirBeneath(root *os.Root, dir string) (*os.Root, error) {
	return openDirBeneath(root, dir, false)
}

// openDirBeneath walks dir one element at a time, each opened as a root
// of its own, so that no symlink anywhere on the way is followed.
func openDirBeneath(root *os.Root, dir string, create bool) (*os.Root, error) {
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
		if create && errors.Is(err, fs.ErrNotExist) {
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
