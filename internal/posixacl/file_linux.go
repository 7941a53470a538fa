package posixacl

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotSupported reports a file system that keeps no ACLs.
var ErrNotSupported = errors.New("the file system keeps no POSIX ACLs")

// Get returns the ACL attr (AccessAttr or DefaultAttr) of the open file
// f; a file with none has the minimal ACL of its mode (for AccessAttr)
// or none at all (nil, for DefaultAttr).
func Get(f *os.File, attr string) (ACL, error) {
	buf := make([]byte, headerSize+entrySize*64)
	for {
		n, err := unix.Fgetxattr(int(f.Fd()), attr, buf)
		switch {
		case errors.Is(err, unix.ERANGE) && len(buf) < headerSize+entrySize*maxEntries:
			buf = make([]byte, len(buf)*4)
			continue
		case errors.Is(err, unix.ENODATA):
			if attr == DefaultAttr {
				return nil, nil
			}
			fi, err := f.Stat()
			if err != nil {
				return nil, err
			}
			return FromMode(fi.Mode()), nil
		case errors.Is(err, unix.ENOTSUP):
			return nil, fmt.Errorf("%s: %w", f.Name(), ErrNotSupported)
		case err != nil:
			return nil, fmt.Errorf("%s: reading its ACL: %w", f.Name(), err)
		}
		return Decode(buf[:n])
	}
}

// Set writes a as the ACL attr of the open file f.
func Set(f *os.File, attr string, a ACL) error {
	err := unix.Fsetxattr(int(f.Fd()), attr, a.Encode(), 0)
	if errors.Is(err, unix.ENOTSUP) {
		return fmt.Errorf("%s: %w", f.Name(), ErrNotSupported)
	}
	if err != nil {
		return fmt.Errorf("%s: writing its ACL: %w", f.Name(), err)
	}
	return nil
}
