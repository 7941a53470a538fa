package installer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/atomicfile"
)

// Sharing is how a release file was placed: its content shared with the
// store or another release, or written out.
const (
	// SharedReflink: a copy-on-write clone of the store's blob (FICLONE).
	// The new file is an inode of its own; only the data blocks are
	// shared, and a write to either copies the blocks it touches.
	SharedReflink = "reflink"
	// SharedLink: a hard link to the same file of a kept release, one
	// inode under two names.
	SharedLink = "link"
	// SharedCopy: the content copied from the store's blob, as when
	// nothing can be shared.
	SharedCopy = "copy"
)

// sharer places the files of one release so that an update costs what
// changed, not what the release holds: each file is a reflink of the
// store's blob where the file system can clone, else a hard link to the
// identical file of a kept release where that is safe (see linkSafe),
// else a copy. The store's blob is the source the install already trusts
// (it was checked against the signed digest as it was stored); a kept
// release's file was placed from it and is not re-read, which is what
// makes a link cost nothing: `ferry check` re-hashes it, in every release
// that names it.
type sharer struct {
	// from lists, by content digest, the files of kept releases that
	// hold it, the current release's first.
	from map[string][]sharedFile
	// linkOK is set when hard links are safe on this host (see linkSafe).
	linkOK bool
	// placed runs once a file is in place by reflink or link, before its
	// step is journalled done: the crash-loop tests kill ferry there.
	placed func()
	// reflinks, links and copies count the files placed each way.
	reflinks, links, copies atomic.Int64
}

// sharedFile is a file of a kept release.
type sharedFile struct {
	version, dest string
	mode          fs.FileMode // as placed
}

// newSharer collects the files of the kept releases other than version
// that an install of version may share.
func newSharer(db *state.DB, version string, placed func()) (*sharer, error) {
	rels, err := db.Releases()
	if err != nil {
		return nil, err
	}
	current, err := db.Current()
	if err != nil {
		return nil, err
	}
	s := &sharer{from: map[string][]sharedFile{}, placed: placed}
	var users []string
	// Only complete releases: one that is installing or failed may lack
	// the file, and its directory goes when it is undone.
	for _, r := range rels {
		if r.Version == version || (r.Status != statusActive && r.Status != statusInactive) {
			continue
		}
		m, err := parseStored(r)
		if err != nil {
			return nil, err
		}
		for _, c := range installedComponents(m, r) {
			for _, svc := range c.Services {
				users = append(users, svc.User)
			}
			for _, f := range c.Files {
				mode, err := placedModeOf(f)
				if err != nil || f.Template {
					continue // a rendered file is not its template's content
				}
				sf := sharedFile{version: r.Version, dest: f.Dest, mode: mode}
				if r.Version == current {
					s.from[f.Digest] = append([]sharedFile{sf}, s.from[f.Digest]...)
				} else {
					s.from[f.Digest] = append(s.from[f.Digest], sf)
				}
			}
		}
	}
	if rel, err := db.Release(version); err == nil {
		if m, err := parseStored(rel); err == nil {
			for _, c := range installedComponents(m, rel) {
				for _, svc := range c.Services {
					users = append(users, svc.User)
				}
			}
		}
	}
	s.linkOK = linkSafe(currentHost(), users)
	return s, nil
}

// linkSafe says whether release files may be hard links of one another: a
// hard link makes a file of the current release and the same file of a
// kept release one inode, so a write to one is a write to both. That is
// safe only when no service can write it. Release files belong to ferry's
// user and carry no write permission for group or others (placedMode); a
// service could still write or chmod one if it ran as ferry's user, which
// is the case when ferry is not root (services then run as ferry) or when
// a service names ferry's user (root) in its user: field. Then release
// files are copied, and a service's write stays in its own release.
// users are the user: fields of the services of the releases involved.
func linkSafe(h host, users []string) bool {
	if !h.root {
		return false
	}
	for _, name := range users {
		if name == "" {
			continue // runs as ServiceUser, which is not root
		}
		u, err := user.Lookup(name)
		if err != nil {
			return false // unknown here: do not assume it is not root
		}
		if u.Uid == strconv.FormatUint(uint64(h.uid), 10) {
			return false
		}
	}
	return true
}

// place puts f into the release directory of version, sharing what it
// can, and says how. Whichever way, the file appears by rename of a
// complete, fsync'd temporary file, so it is either whole or absent, and
// the write goes through the root opened as an os.Root, every directory
// on the way a real one, so that a symlink planted in the root (a release
// directory, or bin/, pointing elsewhere) cannot redirect it.
func (s *sharer) place(st *store.Store, root, version string, f bundle.File) (string, error) {
	mode, err := placedModeOf(f)
	if err != nil {
		return "", err
	}
	src, err := st.Open(f.Digest)
	if err != nil {
		return "", err
	}
	defer src.Close()
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", err
	}
	defer r.Close()
	name := path.Join("releases", version, f.Dest)
	p, err := atomicfile.CreateBeneath(r, name, mode)
	if err != nil {
		return "", unsafeRoot(err)
	}
	defer func() { p.Abort() }() // after Commit, it leaves the file

	// A reflink first: it shares the blocks and nothing else, so the new
	// file has its own inode, mode and owner.
	err = cloneFile(p.File(), src)
	if err == nil {
		if err := p.Commit(); err != nil {
			return "", err
		}
		s.reflinks.Add(1)
		s.done()
		return SharedReflink, nil
	}
	if !errors.Is(err, errNoClone) {
		return "", fmt.Errorf("file %s: %w", f.Dest, err)
	}
	if s.linkOK {
		for _, from := range s.from[f.Digest] {
			if from.mode != mode {
				continue
			}
			ok, err := linkFile(r, path.Join("releases", from.version, from.dest), name, mode, f.Size)
			if err != nil {
				return "", unsafeRoot(err)
			}
			if ok {
				s.links.Add(1)
				s.done()
				return SharedLink, nil
			}
		}
	}
	if _, err := io.Copy(p.File(), src); err != nil {
		return "", fmt.Errorf("file %s: %w", f.Dest, err)
	}
	if err := p.Commit(); err != nil {
		return "", err
	}
	s.copies.Add(1)
	return SharedCopy, nil
}

// counts are the numbers of files placed each way, for the log.
func (s *sharer) counts() []any {
	return []any{SharedReflink, s.reflinks.Load(), SharedLink, s.links.Load(), SharedCopy, s.copies.Load()}
}

func (s *sharer) done() {
	if s.placed != nil {
		s.placed()
	}
}

// errNoClone is returned by cloneFile when the file system cannot clone
// (no reflinks, or the two files are on different file systems).
var errNoClone = errors.New("the file system cannot clone files")

// linkFile makes name (a slash path under r) a hard link to from, a file
// of a kept release, if from is what a release file of mode and size
// must be: a regular file owned by ferry's user, with exactly mode. It
// reports false, having changed nothing, when from is not such a file or
// the two are on different file systems; the caller copies instead. The
// link is made under a temporary name and renamed into place, as every
// placed file is, so that name is whole or absent.
func linkFile(r *os.Root, from, name string, mode fs.FileMode, size int64) (bool, error) {
	srcDir, err := atomicfile.OpenExistingDirBeneath(r, path.Dir(from))
	if err != nil {
		return false, nil // the kept release lacks it; copy
	}
	src, err := srcDir.Lstat(path.Base(from))
	srcDir.Close()
	if err != nil || !shareable(src, mode, size) {
		return false, nil
	}
	dir, base := path.Split(name)
	d, err := atomicfile.OpenDirBeneath(r, strings.TrimSuffix(dir, "/"))
	if err != nil {
		return false, err
	}
	defer d.Close()
	// Already in place: the step ran before a crash, and runs again.
	if fi, err := d.Lstat(base); err == nil && os.SameFile(fi, src) {
		return true, syncDir(d)
	}
	tmp := atomicfile.TempPrefix + rand.Text()
	tmpPath := path.Join(path.Dir(name), tmp)
	if err := r.Link(from, tmpPath); err != nil {
		if linkRefused(err) {
			return false, nil
		}
		return false, fmt.Errorf("link %s to %s: %w", name, from, err)
	}
	// The name linked must be the file checked above, not one put in its
	// place since.
	if fi, err := d.Lstat(tmp); err != nil || !os.SameFile(fi, src) {
		_ = d.Remove(tmp)
		return false, nil
	}
	if err := d.Rename(tmp, base); err != nil {
		_ = d.Remove(tmp)
		return false, err
	}
	// rename(2) of a name onto another name of the same inode does
	// nothing and leaves both; the temporary one must go.
	if err := d.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, syncDir(d)
}

// shareable says whether fi, a kept release's file, may become a file of
// the new release by a hard link.
func shareable(fi fs.FileInfo, mode fs.FileMode, size int64) bool {
	uid, ok := fileOwner(fi)
	return ok && fi.Mode().IsRegular() && fi.Mode().Perm() == mode && mode&0o022 == 0 &&
		fi.Size() == size && uid == uint32(os.Geteuid())
}

func syncDir(d *os.Root) error {
	f, err := d.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// fileOwner is the user that owns fi.
func fileOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// linkRefused says whether a hard link failed for a reason that copying
// avoids: the two names on different file systems, a file system without
// hard links, or a file with as many links as it can have.
func linkRefused(err error) bool {
	return errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EMLINK) ||
		errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP)
}
