package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// safeDirs are the directories of a root that ferry writes and later
// trusts: what is in them is installed, served or run.
var safeDirs = []string{"releases", "store", "run", "data", "logs"}

// CheckSafe refuses (ErrUnsafeRoot) a root that someone other than
// ferry's user could change under it: the root, releases/, store/, run/,
// data/ or logs/ writable by group or others, owned by another user, or,
// for the directories inside it, a symlink. The error names the path and
// the command that fixes it. Every Open checks an existing root with it;
// ferry makes its own directories without group or other write.
func CheckSafe(root string) error {
	euid := os.Geteuid()
	for _, name := range append([]string{"."}, safeDirs...) {
		p := filepath.Join(root, name)
		var fi fs.FileInfo
		var err error
		if name == "." {
			fi, err = os.Stat(p) // the operator may point --root through a link
		} else {
			fi, err = os.Lstat(p)
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("root %s: %w", root, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir() {
			return fmt.Errorf("%w: %s is not a directory but a %s; ferry keeps its own directories there: move it away (mv %s %s.moved) and run ferry again", ErrUnsafeRoot, p, kind(fi.Mode()), p, p)
		}
		if uid, ok := owner(fi); ok && euid >= 0 && uid != euid {
			return fmt.Errorf("%w: %s is owned by uid %d, and ferry runs as uid %d: run ferry as its owner, or give it to ferry's user (chown -R %d %s)", ErrUnsafeRoot, p, uid, euid, euid, p)
		}
		if perm := fi.Mode().Perm(); perm&0o022 != 0 {
			return fmt.Errorf("%w: %s is writable by its group or others (mode %04o): take that away (chmod go-w %s)", ErrUnsafeRoot, p, perm, p)
		}
	}
	return nil
}

func kind(m fs.FileMode) string {
	if m&fs.ModeSymlink != 0 {
		return "symlink"
	}
	return "file"
}

// owner is the uid that owns a file.
func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
