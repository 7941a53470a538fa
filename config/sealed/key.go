package sealed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"ferry/internal/atomicfile"
)

// Where the host key lives, relative to the root: a directory of its own,
// apart from state.db, so that a copy or backup of the state does not
// carry it along.
const (
	keyDir  = "keys"
	keyName = "config.age"
	// KeyPath is the key file, relative to the root.
	KeyPath = keyDir + "/" + keyName
)

// maxKeyFile bounds what OpenKey reads: a key file is a few comment lines
// and one identity, about 300 bytes.
const maxKeyFile = 4 << 10

// KeyFile is the path of the host key of the appliance at root.
func KeyFile(root string) string { return filepath.Join(root, keyDir, keyName) }

// Key is the appliance's host key: it seals values to itself and opens
// them. Its String and LogValue name the file and the public key only, so
// that printing or logging a Key never shows the secret key.
type Key struct {
	path string
	id   *age.X25519Identity
}

// Path is the key file.
func (k *Key) Path() string { return k.path }

// Recipient is the public key values are sealed to (age1…); it may be
// shown, and tells two hosts' keys apart.
func (k *Key) Recipient() string { return k.id.Recipient().String() }

// String names the key file and its public key, never the secret key.
func (k *Key) String() string { return fmt.Sprintf("host key %s (%s)", k.path, k.Recipient()) }

// GoString is String, so that %#v does not print the identity either.
func (k *Key) GoString() string { return k.String() }

// LogValue is String, for log/slog.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// CreateKey makes a new host key for the appliance at root: keys/ (0700)
// if it is missing, and the key file, 0600, written through a pending file
// beneath the root so that a crash leaves no half key and no link planted
// in the root is followed. It refuses (wrapping fs.ErrExist) when a key
// file is there already: replacing a key loses every value sealed to it.
// The caller holds the root's lock.
func CreateKey(root string) (*Key, error) {
	path := KeyFile(root)
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("create host key %s: %w", path, err)
	}
	defer r.Close()
	switch err := r.Mkdir(keyDir, 0o700); {
	case err == nil:
		if err := r.Chmod(keyDir, 0o700); err != nil { // whatever the umask
			return nil, fmt.Errorf("create host key %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("create host key %s: %w", path, err)
	}
	dir, err := openDir(root)
	if err != nil {
		return nil, err
	}
	unix.Close(dir)
	switch _, err := r.Lstat(KeyPath); {
	case err == nil:
		return nil, fmt.Errorf("create host key %s: %w: a host key is there already; ferry never replaces one, since what was sealed to it would be lost", path, fs.ErrExist)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("create host key %s: %w", path, err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("create host key %s: %w", path, err)
	}
	err = atomicfile.WriteBeneath(r, KeyPath, 0o600, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "# ferry host key: opens the secret configuration values sealed in state.db.\n"+
			"# Keep it mode 0600, and back it up apart from state.db: whoever holds both holds the secrets.\n"+
			"# created: %s\n# public key: %s\n%s\n",
			time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
		return err
	})
	if err != nil {
		if errors.Is(err, atomicfile.ErrLinkInPath) {
			return nil, fmt.Errorf("%w: %w", ErrKeyUnsafe, err)
		}
		return nil, fmt.Errorf("create host key: %w", err)
	}
	// Read back through OpenKey: what is on disk is what later commands
	// will use.
	return OpenKey(root)
}

// OpenKey reads the host key of the appliance at root, after checking that
// only ferry's user could have read or replaced it. The file and its
// directory are opened without following a symlink and checked on the
// open descriptors, so that nothing can be swapped in between the check
// and the read.
func OpenKey(root string) (*Key, error) {
	path := KeyFile(root)
	dir, err := openDir(root)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, keyName, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, noKey(path)
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%w: %s is a symlink; ferry reads its host key only from the file itself, never through a link: put the key file in its place (mv TARGET %s)", ErrKeyUnsafe, path, path)
	case err != nil:
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w: %s is not a regular file: put the key file in its place", ErrKeyUnsafe, path)
	}
	if err := checkOwner(path, st); err != nil {
		return nil, err
	}
	if perm := st.Mode & 0o777; perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is open to its group or others (mode %04o): whoever read it can open the site's secrets, and whoever can write it can replace it; take that away (chmod 600 %s), and if others may have read it, set new values for the secrets", ErrKeyUnsafe, path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%w: %s is over %d bytes, too large for a key: restore it from backup", ErrKeyDamaged, path, maxKeyFile)
	}
	id, err := parseIdentity(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w: restore it from backup", ErrKeyDamaged, path, err)
	}
	return &Key{path: path, id: id}, nil
}

// openDir opens <root>/keys without following a link and checks that
// only ferry's user can change what is in it.
func openDir(root string) (int, error) {
	path := filepath.Join(root, keyDir)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, noKey(KeyFile(root))
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
		return -1, fmt.Errorf("%w: %s is not a directory but a symlink or a file; ferry keeps its host key there itself: move it away (mv %s %s.moved) and restore the key from backup", ErrKeyUnsafe, path, path, path)
	case err != nil:
		return -1, fmt.Errorf("host key directory %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("host key directory %s: %w", path, err)
	}
	if err := checkOwner(path, st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if perm := st.Mode & 0o777; perm&0o022 != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("%w: %s is writable by its group or others (mode %04o), who could replace the key in it: take that away (chmod 700 %s)", ErrKeyUnsafe, path, perm, path)
	}
	return fd, nil
}

// checkOwner refuses a key file or directory another user owns: that user
// could read or replace the key.
func checkOwner(path string, st unix.Stat_t) error {
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("%w: %s is owned by uid %d, and ferry runs as uid %d: that user could read or replace the key; if you know it is this appliance's key, give it to ferry's user (chown %d %s), otherwise restore the key from backup", ErrKeyUnsafe, path, st.Uid, euid, euid, path)
	}
	return nil
}

func noKey(path string) error {
	return fmt.Errorf("%w: %s does not exist; the first install makes it. If this appliance holds secret values, restore the key from the backup made of it; without it they cannot be opened and must be set again", ErrNoKey, path)
}

// parseIdentity reads the one X25519 identity of a key file; comments
// and blank lines are allowed, anything else is not.
func parseIdentity(data []byte) (*age.X25519Identity, error) {
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		// age's error may quote the line it could not read, which is
		// likely the secret key itself, damaged.
		return nil, errors.New("not an age identity file")
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("it holds %d identities, not one", len(ids))
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, fmt.Errorf("its identity is a %T, not an X25519 identity", ids[0])
	}
	return id, nil
}
