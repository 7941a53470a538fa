package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"ferry/installer/state"
)

// Journal records with a meaning beyond "this step ran".
const (
	// stepPrevious records, at the start of an install, the release that
	// was current, so that a failure after activation can return to it.
	stepPrevious = "previous"
	// stepChecks is done once the post-activation checks passed: the
	// commit point of an install.
	stepChecks = "checks"
	// stepReason records why a rollback was asked for (ferry serve's
	// aborted rollout), so that the recovery that finishes or undoes a
	// rollback a crash interrupted keeps it in history and the audit log.
	stepReason = "reason"
)

// finishInterrupted finishes what an interrupted ferry left, so that the host is on
// the old release or the new one, never a mix. An install (and a
// configuration revision) commits when its checks have passed after
// activation: one that got that far is committed;
// any other is undone — `current` back to the release it replaced, its
// release directory and row removed. A rollback commits at its activation.
// Blobs already stored stay: they are content-addressed, and gc removes
// them if unused.
func finishInterrupted(db *state.DB, root string, log *slog.Logger, u *undoer) error {
	txn, open, err := db.OpenTxn()
	if err != nil || !open {
		return err
	}
	current, err := db.Current()
	if err != nil {
		return err
	}
	committed := current == txn.Version
	if txn.Kind == "install" || txn.Kind == txnConfig {
		passed, err := db.StepDone(txn.ID, stepChecks)
		if err != nil {
			return err
		}
		committed = committed && passed
	}
	if committed {
		log.Warn("an interrupted transaction had reached its commit point; committing it", "kind", txn.Kind, "version", txn.Version)
		if err := switchCurrent(root, current); err != nil {
			return err
		}
		reason, err := stepDetail(db, txn, stepReason)
		if err != nil {
			return err
		}
		if err := commit(db, txn, reason); err != nil {
			return err
		}
		return db.Audit(txn.Kind+".recovered", withReason(map[string]string{"version": txn.Version, "outcome": "committed"}, reason))
	}
	log.Warn("an interrupted transaction is rolled back", "kind", txn.Kind, "version", txn.Version)
	if err := compensate(db, root, txn, u); err != nil {
		return fmt.Errorf("rolling back the interrupted %s of %s: %w", txn.Kind, txn.Version, err)
	}
	reason, err := stepDetail(db, txn, stepReason)
	if err != nil {
		return err
	}
	why := "interrupted before its commit point; rolled back at the next start"
	if reason != "" {
		why += " (it was asked for because " + reason + ")"
	}
	if err := db.FinishTxn(txn.ID, "aborted", why); err != nil {
		return err
	}
	return db.Audit(txn.Kind+".recovered", withReason(map[string]string{"version": txn.Version, "outcome": "rolled back"}, reason))
}

// withReason adds the journalled reason of a transaction, when it has
// one, to the fields of its audit entry.
func withReason(fields map[string]string, reason string) map[string]string {
	if reason != "" {
		fields["reason"] = reason
	}
	return fields
}

// commit ends a transaction that reached its commit point: statuses follow
// the current release; an install raises the anti-rollback mark and puts
// in force the trust its bundle's rotation statements led to. Each part
// may run again (recovery after a crash inside commit) with no other
// effect.
func commit(db *state.DB, txn state.Txn, reason string) error {
	if err := markActive(db, txn.Version); err != nil {
		return err
	}
	if txn.Kind == "install" {
		if err := raiseHighest(db, txn.Version); err != nil {
			return err
		}
		if err := keepJournalledTrust(db, txn); err != nil {
			return err
		}
		if err := keepJournalledRotation(db, txn); err != nil {
			return err
		}
	}
	return db.FinishTxn(txn.ID, "committed", reason)
}

// abort undoes a transaction that failed before its commit point.
func abort(db *state.DB, root string, txn state.Txn, cause error, u *undoer) error {
	if err := compensate(db, root, txn, u); err != nil {
		return err
	}
	if err := db.FinishTxn(txn.ID, "aborted", cause.Error()); err != nil {
		return err
	}
	return db.Audit(txn.Kind+".failed", map[string]string{"version": txn.Version, "error": cause.Error()})
}

// compensate undoes the visible effects of an uncommitted transaction.
func compensate(db *state.DB, root string, txn state.Txn, u *undoer) error {
	current, err := db.Current()
	if err != nil {
		return err
	}
	previous, err := previousRelease(db, txn)
	if err != nil {
		return err
	}
	// The charts go back first, newest change first: what they run may
	// need the schema of the release they were installed with.
	if u != nil {
		if err := restoreCharts(context.Background(), u.charts, db, txn); err != nil {
			return err
		}
	}
	// An upgrade takes its migrations back with it: the release it
	// returns to expects its own schema. So does a rollback, which may
	// have run migrations down (or, to a newer kept release, up).
	if (txn.Kind == "install" || txn.Kind == "rollback") && previous != "" && u != nil {
		if err := u.revert(db, txn); err != nil {
			return err
		}
		if err := u.reapply(db, txn); err != nil {
			return err
		}
	}
	if current == txn.Version && previous != txn.Version {
		// Activated but not committed: back to what it replaced.
		if previous == "" {
			if err := db.SetCurrent(""); err != nil {
				return err
			}
		} else if err := activate(db, root, previous); err != nil {
			return err
		}
		current = previous
	}
	// Only an install or a configuration revision created the release; a
	// rollback's target is a kept release that must stay.
	if (txn.Kind == "install" || txn.Kind == txnConfig) && current != txn.Version {
		if err := os.RemoveAll(releaseDir(root, txn.Version)); err != nil {
			return err
		}
		if _, err := db.Release(txn.Version); err == nil {
			if err := db.DeleteRelease(txn.Version); err != nil {
				return err
			}
		}
	}
	// `current` must name what the state says is current.
	if current == "" {
		return removeCurrent(root)
	}
	if err := switchCurrent(root, current); err != nil {
		return err
	}
	return markActive(db, current)
}

// previousRelease is the release that was current when txn began.
func previousRelease(db *state.DB, txn state.Txn) (string, error) {
	return stepDetail(db, txn, stepPrevious)
}

// recordDetail journals v, as JSON, as the detail of txn's record name:
// what a commit, or the recovery that finishes it, must put in force.
func recordDetail(db *state.DB, txn state.Txn, name string, v any) error {
	detail, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return db.RecordStep(txn.ID, name, "done", string(detail))
}

// readDetail decodes into v the JSON detail that recordDetail journalled
// for txn's record name; false when there is none.
func readDetail(db *state.DB, txn state.Txn, name string, v any) (bool, error) {
	detail, err := stepDetail(db, txn, name)
	if err != nil || detail == "" {
		return false, err
	}
	if err := json.Unmarshal([]byte(detail), v); err != nil {
		return false, fmt.Errorf("the journalled %s of transaction %d: %w", name, txn.ID, err)
	}
	return true, nil
}

// stepDetail is the detail of txn's journal record named name; "" when
// there is none.
func stepDetail(db *state.DB, txn state.Txn, name string) (string, error) {
	steps, err := db.Steps(txn.ID)
	if err != nil {
		return "", err
	}
	for _, s := range steps {
		if s.Name == name {
			return s.Detail, nil
		}
	}
	return "", nil
}
