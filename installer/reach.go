package installer

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkReach refuses an appliance root that a service's account could not
// enter: a directory above it (the root itself ferry opens up) that does
// not let the account search it. Without this the service fails at start
// with a bare "permission denied", after the install has committed. a is
// nil for an account install has yet to create, which owns nothing and is
// in no group of the host: only the search bit for others lets it pass.
func checkReach(root string, who string, a *Account) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err == nil && !canSearch(fi, a) {
			st, _ := fi.Sys().(*syscall.Stat_t)
			return fmt.Errorf("%w: %s cannot enter %s (mode %s, owner uid %d, group gid %d), above the appliance root %s: let others search it (chmod o+x %s) or put the root where services can reach it (for example /var/lib/ferry)",
				ErrServiceAccount, who, dir, fi.Mode().Perm(), st.Uid, st.Gid, abs, dir)
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

// canSearch applies the kernel's rule for search permission on a
// directory: the owner's bits for its owner, else the group's bits for its
// group (a service has no supplementary groups), else the others' bits.
func canSearch(fi fs.FileInfo, a *Account) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return true
	case a != nil && a.UID == 0:
		return true
	case a != nil && st.Uid == a.UID:
		return perm&0o100 != 0
	case a != nil && st.Gid == a.GID:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
