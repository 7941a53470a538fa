package installer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"

	"ferry/bundle/spec"
	"ferry/internal/atomicfile"
)

// Where secret files are delivered, relative to the root: run/ holds what
// exists only while ferry serve runs, and a file system mounted there
// from memory (tmpfs) keeps them off the disk.
const secretsDir = "run/secrets"

// Modes of delivered secrets: the service's own directory, which it may
// list but not write, and files it may read and nobody else.
const (
	secretDirMode  fs.FileMode = 0o500
	secretFileMode fs.FileMode = 0o400
)

// maxSecretFile bounds one delivered file, as config/sealed bounds a
// sealed value.
const maxSecretFile = 1 << 20

// secretNameRE is what a secret file may be called: a variable name or an
// environment variable's, never a path.
var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ServiceSecrets are the secret values one service is given when it
// starts, resolved by the site's configuration: never on its command line,
// only in its environment or in its own files.
type ServiceSecrets struct {
	// Env are environment variables set to secret values.
	Env map[string]string
	// Files are delivered as <root>/run/secrets/SERVICE/NAME
	// (DeliverSecretFiles).
	Files map[string][]byte
}

// Values are every secret value s holds, for scrubbing them from what is
// logged or stored.
func (s ServiceSecrets) Values() []string {
	var out []string
	for _, v := range s.Env {
		out = append(out, v)
	}
	for _, v := range s.Files {
		out = append(out, string(v))
	}
	return out
}

// SecretsDir is the directory of service's secret files under root.
func SecretsDir(root, service string) string {
	return filepath.Join(root, filepath.FromSlash(secretsDir), service)
}

// DeliverSecretFiles writes files as service's secret files: each NAME as
// <root>/run/secrets/SERVICE/NAME, mode 0400, owned by the account the
// service runs as, in a directory of its own, mode 0500, owned by that
// account; run/ and run/secrets/ stay ferry's, and let others pass
// through to their own directory without listing it. Each file is
// written under a temporary name and renamed into place, so a service
// reading it sees the old value or the new one; a file of an earlier
// delivery that files no longer names is removed. Nothing is followed
// through a symlink. It returns the directory.
func DeliverSecretFiles(root, service string, a Account, files map[string][]byte) (string, error) {
	if err := spec.CheckName(service); err != nil {
		return "", fmt.Errorf("deliver secrets: service %w", err)
	}
	for name, value := range files {
		if !secretNameRE.MatchString(name) {
			return "", fmt.Errorf("deliver secrets of service %s: %q is not a secret file name: letters, digits and _.-, not starting with . or -", service, name)
		}
		if len(value) > maxSecretFile {
			return "", fmt.Errorf("deliver secrets of service %s: %s is %d bytes, over %d", service, name, len(value), maxSecretFile)
		}
	}
	dir := SecretsDir(root, service)
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
	}
	defer r.Close()
	if err := addSearch(root); err != nil {
		return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
	}
	for _, d := range []struct {
		name string
		mode fs.FileMode
	}{{"run", 0o751}, {secretsDir, 0o711}} {
		if err := ferryDir(r, d.name, d.mode); err != nil {
			return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
		}
	}
	name := path.Join(secretsDir, service)
	if err := ferryDir(r, name, 0o700); err != nil {
		return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
	}
	// Writable by its owner while it is filled: ferry, when not root, is
	// the service's user, and 0500 would keep it out too.
	if err := r.Chmod(name, 0o700); err != nil {
		return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeSecretFile(r, path.Join(name, n), a, files[n]); err != nil {
			return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
		}
	}
	if err := removeOthers(r, name, files); err != nil {
		return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
	}
	if a.Switch {
		if err := r.Lchown(name, int(a.UID), int(a.GID)); err != nil {
			return "", fmt.Errorf("deliver secrets of service %s: give %s to %s: %w", service, dir, a.User, err)
		}
	}
	if err := r.Chmod(name, secretDirMode); err != nil {
		return "", fmt.Errorf("deliver secrets of service %s: %w", service, err)
	}
	return dir, nil
}

// ferryDir makes the directory name beneath r if it is missing, with
// mode; one that is there must be a directory (not a link) and gets the
// search bit for others, so that a service reaches its own directory.
func ferryDir(r *os.Root, name string, mode fs.FileMode) error {
	fi, err := r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		if err := r.Mkdir(name, mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := r.Chmod(name, mode); err != nil { // whatever the umask
			return err
		}
		fi, err = r.Lstat(name)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s under %s is not a directory (%s); ferry makes its own directories there: remove it", atomicfile.ErrLinkInPath, name, r.Name(), fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o001 == 0 && mode&0o001 != 0 {
		return r.Chmod(name, perm|0o001)
	}
	return nil
}

// writeSecretFile writes one secret file through a pending file, given to
// the account before it takes the final name.
func writeSecretFile(r *os.Root, name string, a Account, value []byte) error {
	p, err := atomicfile.CreateBeneath(r, name, secretFileMode)
	if err != nil {
		return err
	}
	defer p.Abort()
	if _, err := p.Write(value); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if a.Switch {
		if err := p.File().Chown(int(a.UID), int(a.GID)); err != nil {
			return fmt.Errorf("give %s to %s: %w", name, a.User, err)
		}
	}
	return p.Commit()
}

// removeOthers removes what dir holds besides the names of files: secrets
// no longer given, and anything the service put there.
func removeOthers(r *os.Root, dir string, files map[string][]byte) error {
	f, err := r.Open(dir)
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for _, e := range entries {
		if _, keep := files[e.Name()]; keep {
			continue
		}
		if err := r.RemoveAll(path.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// RemoveSecretFiles removes service's secret files and their directory,
// when the service stops for good. Nothing is followed through a link.
func RemoveSecretFiles(root, service string) error {
	if err := spec.CheckName(service); err != nil {
		return fmt.Errorf("remove secrets: service %w", err)
	}
	return removeSecrets(root, service)
}

// RemoveAllSecretFiles removes every service's secret files: what a
// ferry serve that was killed left behind, and what one that stops
// delivered.
func RemoveAllSecretFiles(root string) error { return removeSecrets(root, "") }

// removeSecrets removes the directory of service's secrets, or with ""
// all of run/secrets. A service's directory is made writable first, for a
// ferry that is not root (and so is the service's user); only directories
// named by ferry are changed, never one a service made inside its own.
func removeSecrets(root, service string) error {
	name := path.Join(secretsDir, service)
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("remove %s: %w", filepath.Join(root, name), err)
	}
	defer r.Close()
	var dirs []string
	if service != "" {
		dirs = []string{name}
	} else if f, err := r.Open(name); err == nil {
		entries, _ := f.ReadDir(-1)
		f.Close()
		for _, e := range entries {
			dirs = append(dirs, path.Join(name, e.Name()))
		}
	}
	for _, d := range dirs {
		if fi, err := r.Lstat(d); err == nil && fi.IsDir() {
			_ = r.Chmod(d, 0o700)
		}
	}
	if err := r.RemoveAll(name); err != nil {
		return fmt.Errorf("remove %s: %w", filepath.Join(root, name), err)
	}
	return nil
}
