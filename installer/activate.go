package installer

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	"ferry/installer/state"
	"ferry/internal/atomicfile"
)

// activate makes version the current release: a new symlink renamed over
// `current` (atomic on POSIX file systems), then the state. Before it the
// old release runs untouched; an install commits once its checks pass
// after it (see recover).
func activate(db *state.DB, root, version string) error {
	if err := switchCurrent(root, version); err != nil {
		return err
	}
	// One bbolt transaction: recovery after a crash looks at the state's
	// current release to know which side of the switch it was on.
	if err := db.SetCurrent(version); err != nil {
		return err
	}
	return markActive(db, version)
}

// markActive sets the status of every release to match the current one.
func markActive(db *state.DB, version string) error {
	rels, err := db.Releases()
	if err != nil {
		return err
	}
	for _, rel := range rels {
		want := statusInactive
		if rel.Version == version {
			want = statusActive
		} else if rel.Status != statusActive {
			continue
		}
		if rel.Status != want {
			rel.Status = want
			if err := db.PutRelease(rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// switchCurrent points <root>/current at releases/<version>, which must be
// a real directory beneath the root, not a symlink planted to lead
// elsewhere.
func switchCurrent(root, version string) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	dir, err := atomicfile.OpenDirBeneath(r, path.Join("releases", version))
	r.Close()
	if err != nil {
		return unsafeRoot(err)
	}
	dir.Close()
	tmp := filepath.Join(root, ".current.tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("releases", version), tmp); err != nil {
		return fmt.Errorf("activate %s: %w", version, err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "current")); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("activate %s: %w", version, err)
	}
	return atomicfile.SyncDir(root)
}

// removeCurrent removes the current link when no release is left.
func removeCurrent(root string) error {
	err := os.Remove(filepath.Join(root, "current"))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}
