package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"ferry/internal/atomicfile"
	"ferry/internal/redact"
)

// dbName is the state file in the root.
const dbName = "state.db"

const (
	// boltTimeout bounds bbolt's own flock on state.db. ferry's lock is
	// taken first, so this only waits when a program other than ferry has
	// the file open.
	boltTimeout = time.Second

	// lockWait is how long OpenReadOnly waits for a writer to finish, and
	// how long Open waits for readers; a writer never waits for a writer.
	lockWait = 2 * time.Second
)

// DB is the open state of one appliance root. Its methods are safe for
// concurrent use by several goroutines.
type DB struct {
	root     string
	path     string
	bolt     *bolt.DB
	lock     *rootLock
	readOnly bool
	// secrets scrub the texts stored from outside: audit fields, errors
	// of failed steps, transaction reasons and check details (see
	// SetSecrets).
	secrets *redact.Secrets
}

// maxText bounds each text the state stores from outside (an audit
// field, a journal detail, a check's output): an error or a command's
// output can be long, and the state keeps all of them.
const maxText = 2048

// SetSecrets makes every text stored through db from now on (audit field
// values, the errors of failed steps, transaction reasons, check details)
// scrubbed of secrets and bounded to 2 KiB. Texts are stored scrubbed, not
// scrubbed when shown: state.db, the audit chain and every report made
// from them never hold a secret. Without it texts are bounded only.
func (db *DB) SetSecrets(s *redact.Secrets) { db.secrets = s }

// text is a text from outside as db stores it.
func (db *DB) text(s string) string { return db.secrets.Bound(s, maxText) }

// Open opens the state of the appliance at root for writing. It takes the
// root's exclusive lock (<root>/ferry.lock, with this pid written in it), so
// a second ferry fails at once with a *LockedError naming this process.
//
// With create, a missing root is made (mode 0700) and a missing state.db is
// laid out (mode 0600) in an empty root; a directory that holds other files
// but no state.db is not taken over. Without create, a root without
// state.db is ErrNotARoot. A state.db that cannot be read is ErrCorrupt and
// is never recreated; one written by a newer ferry is ErrSchemaTooNew.
func Open(root string, create bool) (*DB, error) {
	root, err := checkRoot(root, create)
	if err != nil {
		return nil, err
	}
	lock, err := lockRoot(root, true, lockWait)
	if err != nil {
		return nil, err
	}
	db, err := openLocked(root, create, lock)
	if err != nil {
		_ = lock.release() // the open's error is the one to report
		return nil, err
	}
	return db, nil
}

// OpenBrief opens the state at root for a short write, for a long-running
// process that saves a little now and then (`ferry serve`). It takes the
// lock exclusively but without writing its pid, so a ferry command that
// comes meanwhile waits the moment out as it would for a reader instead
// of failing; it fails at once, like Open, while a writer holds the root.
// Close it as soon as the write is done.
func OpenBrief(root string) (*DB, error) {
	root, err := checkRoot(root, false)
	if err != nil {
		return nil, err
	}
	lock, err := lockRootAs(root, true, false, lockWait)
	if err != nil {
		return nil, err
	}
	db, err := openLocked(root, false, lock)
	if err != nil {
		_ = lock.release() // the open's error is the one to report
		return nil, err
	}
	return db, nil
}

// OpenReadOnly opens the state at root for reading (status, history,
// audit). It takes the root's lock shared, waiting a short time for a
// writer to finish before failing with a *LockedError. Writes through the
// returned DB fail with ErrReadOnly.
func OpenReadOnly(root string) (*DB, error) {
	return openReadOnly(root, lockWait)
}

func openReadOnly(root string, wait time.Duration) (*DB, error) {
	root, err := checkRoot(root, false)
	if err != nil {
		return nil, err
	}
	lock, err := lockRoot(root, false, wait)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, dbName)
	b, _, err := openChecked(path)
	if err != nil {
		_ = lock.release() // the open's error is the one to report
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notARoot(root, "it has no "+dbName+"; check --root, or install into it first")
		}
		return nil, err
	}
	return &DB{root: root, path: path, bolt: b, lock: lock, readOnly: true}, nil
}

// checkRoot cleans root and checks, before any lock file is made in it,
// that it is a directory that can hold ferry state.
func checkRoot(root string, create bool) (string, error) {
	if root == "" {
		return "", fmt.Errorf("%w: no root directory given; pass --root or set FERRY_ROOT", ErrNotARoot)
	}
	root = filepath.Clean(root)
	info, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
			return "", fmt.Errorf("create parent of root %s: %w", root, err)
		}
		if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("create root %s: %w", root, err)
		}
		return root, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", notARoot(root, "it does not exist")
	case err != nil:
		return "", fmt.Errorf("root %s: %w", root, err)
	case !info.IsDir():
		return "", notARoot(root, "it is not a directory")
	}
	if err := CheckSafe(root); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, dbName)); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return "", notARoot(root, "it has no "+dbName+"; check --root, or install into it first")
		}
		// Checked again under the lock; checked here so that no lock file
		// is left in a directory that is not to become a root.
		if err := checkEmpty(root); err != nil {
			return "", err
		}
	}
	return root, nil
}

// openLocked does the rest of Open once the root is locked: it makes
// state.db if asked to, checks it, and opens it for writing.
func openLocked(root string, create bool, lock *rootLock) (*DB, error) {
	path := filepath.Join(root, dbName)
	_, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		if err := createState(root); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		return nil, notARoot(root, "it has no "+dbName+"; check --root, or install into it first")
	case err != nil:
		return nil, fmt.Errorf("%s: %w", path, err)
	}

	ro, _, err := openChecked(path)
	if err != nil {
		return nil, err
	}
	if err := ro.Close(); err != nil {
		return nil, fmt.Errorf("close %s after checking it: %w", path, err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltTimeout})
	if err != nil {
		return nil, classifyOpen(path, err)
	}
	// A state.db restored from backup may have come back readable by all;
	// it holds the trust set and the audit log.
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			b.Close()
			return nil, fmt.Errorf("restrict %s to its owner: %w", path, err)
		}
	}
	return &DB{root: root, path: path, bolt: b, lock: lock}, nil
}

// createState lays out a new state.db. It is built as an atomicfile
// pending file and committed into place, so a crash part-way leaves no
// half-made state.db that the next Open would have to call corrupt.
func createState(root string) error {
	path := filepath.Join(root, dbName)
	if err := checkEmpty(root); err != nil {
		return err
	}
	if err := removeLeftovers(root); err != nil {
		return err
	}
	p, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return err
	}
	defer p.Abort()
	b, err := bolt.Open(p.Name(), 0o600, &bolt.Options{Timeout: boltTimeout})
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error { return initSchema(tx, now()) })
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return p.Commit()
}

// oldTempName is where ferry built state.db before it wrote through
// atomicfile; a crash of an older ferry may have left it.
const oldTempName = dbName + ".new"

// isLeftover reports whether name, in a root without state.db, is what a
// crash in createState left behind.
func isLeftover(name string) bool {
	return name == oldTempName || strings.HasPrefix(name, atomicfile.TempPrefix)
}

// removeLeftovers removes what an earlier createState, killed part-way,
// left in root. It runs under the root's lock, with no state.db there, so
// nothing else can be writing them.
func removeLeftovers(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("read root %s: %w", root, err)
	}
	for _, e := range entries {
		if !isLeftover(e.Name()) {
			continue
		}
		name := filepath.Join(root, e.Name())
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove leftover %s: %w", name, err)
		}
	}
	return nil
}

// checkEmpty refuses to make a new state.db in a directory that already
// holds something else, so that a mistyped --root does not turn an
// unrelated directory into an appliance root. Only ferry's own lock and
// temporary files and a file system's lost+found may be there.
func checkEmpty(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("read root %s: %w", root, err)
	}
	for _, e := range entries {
		if e.Name() == lockName || e.Name() == "lost+found" || isLeftover(e.Name()) {
			continue
		}
		return notARoot(root, fmt.Sprintf("it has no %s but is not empty (it holds %s); if it was a ferry root, restore %s from backup, otherwise choose an empty or new directory", dbName, e.Name(), dbName))
	}
	return nil
}

func notARoot(root, why string) error {
	return fmt.Errorf("%s is %w: %s", root, ErrNotARoot, why)
}

// Close releases the database and the root's lock. It is safe to call more
// than once.
func (db *DB) Close() error {
	if db == nil {
		return nil
	}
	err := db.bolt.Close()
	if lerr := db.lock.release(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", db.path, err)
	}
	return nil
}

// Root returns the appliance root this state belongs to.
func (db *DB) Root() string { return db.root }

// Path returns the path of state.db.
func (db *DB) Path() string { return db.path }

// update runs fn in one bbolt read-write transaction: atomic, and fsync'd
// before it returns.
func (db *DB) update(fn func(tx *bolt.Tx) error) error {
	if db.readOnly {
		return fmt.Errorf("%s: %w; open it with Open to change it", db.path, ErrReadOnly)
	}
	return db.bolt.Update(fn)
}

func (db *DB) view(fn func(tx *bolt.Tx) error) error {
	return db.bolt.View(fn)
}

// now is the time recorded in state: UTC, so that entries compare and read
// the same on every host, and without the monotonic reading.
func now() time.Time {
	return time.Now().UTC()
}
