package installer

import (
	"fmt"
	"log/slog"
	"os"

	"ferry/installer/state"
)

// recover finishes what an interrupted ferry left: a transaction whose
// activation was journalled as done is committed (the crash came after the
// commit point); any other is compensated — its release directory and row
// removed, `current` pointed back at the release the state names — so the
// host is on the old release or the new one, never a mix. Blobs it stored
// stay: they are content-addressed, and gc removes them if unused.
func recover(db *state.DB, root string, log *slog.Logger) error {
	txn, open, err := db.OpenTxn()
	if err != nil || !open {
		return err
	}
	current, err := db.Current()
	if err != nil {
		return err
	}
	if current == txn.Version {
		// The state's current release is the commit point: it was reached.
		log.Warn("an interrupted install had already activated its release; committing it", "version", txn.Version)
		if err := switchCurrent(root, current); err != nil {
			return err
		}
		if err := markActive(db, current); err != nil {
			return err
		}
		if err := db.FinishTxn(txn.ID, "committed", "interrupted after activation; committed at the next start"); err != nil {
			return err
		}
		return db.Audit("install.recovered", map[string]string{"version": txn.Version, "outcome": "committed"})
	}
	log.Warn("an interrupted install is rolled back", "version", txn.Version)
	if err := compensate(db, root, txn); err != nil {
		return fmt.Errorf("rolling back the interrupted install of %s: %w", txn.Version, err)
	}
	if err := db.FinishTxn(txn.ID, "aborted", "interrupted before activation; rolled back at the next start"); err != nil {
		return err
	}
	return db.Audit("install.recovered", map[string]string{"version": txn.Version, "outcome": "rolled back"})
}

// abort compensates a transaction that failed before activation.
func abort(db *state.DB, root string, txn state.Txn, cause error) error {
	if err := compensate(db, root, txn); err != nil {
		return err
	}
	if err := db.FinishTxn(txn.ID, "aborted", cause.Error()); err != nil {
		return err
	}
	return db.Audit("install.failed", map[string]string{"version": txn.Version, "error": cause.Error()})
}

// compensate undoes the visible effects of a transaction that did not
// reach activation.
func compensate(db *state.DB, root string, txn state.Txn) error {
	current, err := db.Current()
	if err != nil {
		return err
	}
	// Only an install created the release; a rollback's target is a kept
	// release that must stay.
	if txn.Kind == "install" && current != txn.Version {
		if err := os.RemoveAll(releaseDir(root, txn.Version)); err != nil {
			return err
		}
		if rel, err := db.Release(txn.Version); err == nil && rel.Status == statusInstalling {
			if err := db.DeleteRelease(txn.Version); err != nil {
				return err
			}
		}
	}
	// `current` must name what the state says is current.
	if current == "" {
		return removeCurrent(root)
	}
	return switchCurrent(root, current)
}
