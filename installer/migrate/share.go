package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"ferry/installer/state"
	"ferry/internal/posixacl"
)

// The embedded databases are ferry's files in ferry's directory
// (DatabasesDir), and a service that runs as its own user must
// still open the one ferry migrated for it. Each service account is
// named in their POSIX ACLs: search (not list, not write) on the
// directory, read and write on each database and on its write-ahead log
// and shared-memory files, which ferry makes beside it for that reason
// (SQLite makes them only in a directory it may write, and a directory
// the services could write would let one of them plant a link where
// ferry, as root, opens a database). No group and nobody else gets
// anything: the file modes stay 0600 and 0700 but for the ACL mask.

// sqliteSidecars are the files SQLite keeps beside a database in WAL
// mode, the journal mode ferry sets.
var sqliteSidecars = []string{"-wal", "-shm"}

// ShareSQLite lets the user uid (a service's account) use the embedded
// databases of the appliance at root: search on their directory, read and
// write on each database and its WAL and shared-memory files. It changes
// nothing that is so already. A file system without ACLs leaves the
// databases ferry's alone.
func ShareSQLite(root string, uid uint32) error {
	if uid == 0 || int(uid) == os.Geteuid() {
		return nil
	}
	return shareSQLite(root, &uid)
}

// shareSQLite is ShareSQLite; a nil uid only makes again the WAL and
// shared-memory files that a connection closing last removed, with the
// database's ACL.
func shareSQLite(root string, uid *uint32) error {
	dir := DatabasesDir(root)
	d, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("databases: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("databases: %w", err)
	}
	err = shareDatabasesIn(d, dir, names, uid)
	if errors.Is(err, posixacl.ErrNotSupported) {
		return nil
	}
	return err
}

func shareDatabasesIn(d *os.File, dir string, names []string, uid *uint32) error {
	if uid != nil {
		acl, err := posixacl.Get(d, posixacl.AccessAttr)
		if err != nil {
			return err
		}
		if perm, ok := acl.User(*uid); !ok || perm != posixacl.Execute {
			if err := posixacl.Set(d, posixacl.AccessAttr, acl.WithUser(*uid, posixacl.Execute)); err != nil {
				return err
			}
		}
	}
	for _, name := range names {
		if !strings.HasSuffix(name, ".db") {
			continue
		}
		db, err := openOwned(filepath.Join(dir, name), false)
		if err != nil {
			return err
		}
		acl, err := posixacl.Get(db, posixacl.AccessAttr)
		if err == nil && uid != nil {
			if perm, ok := acl.User(*uid); !ok || perm != posixacl.Read|posixacl.Write {
				acl = acl.WithUser(*uid, posixacl.Read|posixacl.Write)
				err = posixacl.Set(db, posixacl.AccessAttr, acl)
			}
		}
		db.Close()
		if err != nil {
			return err
		}
		for _, suffix := range sqliteSidecars {
			f, err := openOwned(filepath.Join(dir, name+suffix), true)
			if err != nil {
				return err
			}
			err = posixacl.Set(f, posixacl.AccessAttr, acl)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// openOwned opens path, not through a link, making it (0600) when create
// is set; it must be a regular file of ferry's user with one name.
func openOwned(path string, create bool) (*os.File, error) {
	flag := os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("database file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || !ok || int(st.Uid) != os.Geteuid() || st.Nlink != 1 {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a file of ferry's own (mode %v): move it away", state.ErrUnsafeRoot, path, fi.Mode())
	}
	return f, nil
}
