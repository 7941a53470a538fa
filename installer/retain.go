package installer

import (
	"os"

	"ferry/installer/state"
)

// defaultKeep is how many releases stay on the host for rollback.
const defaultKeep = 3

// retain removes the oldest releases beyond the newest keep, never the
// current one. Their blobs stay in the store until `ferry gc`.
func retain(db *state.DB, root string, keep int) error {
	if keep <= 0 {
		keep = defaultKeep
	}
	rels, err := db.Releases()
	if err != nil {
		return err
	}
	current, err := db.Current()
	if err != nil {
		return err
	}
	for i := 0; i < len(rels)-keep; i++ {
		v := rels[i].Version
		if v == current {
			continue
		}
		if err := os.RemoveAll(releaseDir(root, v)); err != nil {
			return err
		}
		if err := db.DeleteRelease(v); err != nil {
			return err
		}
		_ = db.Audit("release.removed", map[string]string{"version": v, "reason": "retention"})
	}
	return nil
}
