package installer

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckReach refuses to start the service from the appliance at root
// when its account could not enter it: a directory above the root (the
// root itself PrepareService opens up) that does not let the account
// search it. Without this the start fails with a bare "permission denied"
// from exec. A service that runs as ferry itself needs no check.
func (r ServiceRun) CheckReach(root, service string) error {
	if !r.Account.Switch {
		return nil
	}
	a := r.Account
	who := fmt.Sprintf("service %s, run as %s,", service, a.User)
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
func canSearch(fi fs.FileInfo, a Account) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok || a.UID == 0:
		return true
	case st.Uid == a.UID:
		return perm&0o100 != 0
	case st.Gid == a.GID:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
