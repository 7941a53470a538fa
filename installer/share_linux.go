package installer

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// cloneFile makes dst, an empty file, a copy-on-write clone of src
// (FICLONE): the two share their data blocks until either is written.
// It returns errNoClone when the file system cannot do it (ext4, tmpfs)
// or the two are on different file systems.
func cloneFile(dst, src *os.File) error {
	dc, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	sc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = dc.Control(func(dfd uintptr) {
		err := sc.Control(func(sfd uintptr) {
			cerr = unix.IoctlFileClone(int(dfd), int(sfd))
		})
		if err != nil {
			cerr = err
		}
	})
	if err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("%w: %w", errNoClone, cerr)
	}
	return nil
}
