package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/Masterminds/semver/v3"

	"ferry/installer/state"
)

// ErrNoRelease reports a rollback target that is not kept on the host.
var ErrNoRelease = errors.New("no such release on this host")

// Rollback makes a kept release current again: to, or when to is empty the
// newest kept release older than the current one. It is journalled like an
// install, and activation is its commit point.
func Rollback(ctx context.Context, root, to string, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := state.Open(root, false)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if err := recover(db, root, log, newUndoer(root, nil, log)); err != nil {
		return "", err
	}
	current, err := db.Current()
	if err != nil {
		return "", err
	}
	target, err := rollbackTarget(db, current, to)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(releaseDir(root, target)); err != nil {
		return "", fmt.Errorf("%w: the directory of release %s: %v", ErrNoRelease, target, err)
	}
	rel, err := db.Release(target)
	if err != nil {
		return "", err
	}
	txn, err := db.BeginTxn("rollback", target, rel.ManifestDigest)
	if err != nil {
		return "", err
	}
	if err := db.RecordStep(txn.ID, stepPrevious, "done", current); err != nil {
		return "", err
	}
	r := &run{db: db, txn: txn, crashAt: crashStep()}
	if err := r.step("activate:"+target, func() error { return activate(db, root, target) }); err != nil {
		_ = abort(db, root, txn, err, nil)
		return "", err
	}
	if err := commit(db, txn); err != nil {
		return "", err
	}
	_ = db.Audit("rollback", map[string]string{"from": current, "to": target})
	return target, nil
}

// rollbackTarget picks the release to go back to.
func rollbackTarget(db *state.DB, current, to string) (string, error) {
	rels, err := db.Releases()
	if err != nil {
		return "", err
	}
	if to != "" {
		for _, r := range rels {
			if r.Version == to {
				if to == current {
					return "", fmt.Errorf("%s is already current", to)
				}
				return to, nil
			}
		}
		return "", fmt.Errorf("%w: %s (kept: %s)", ErrNoRelease, to, versions(rels))
	}
	cur, err := semver.StrictNewVersion(current)
	if err != nil {
		return "", fmt.Errorf("%w: nothing is installed", ErrNoRelease)
	}
	best := ""
	for _, r := range rels {
		v, err := semver.StrictNewVersion(r.Version)
		if err == nil && v.LessThan(cur) {
			best = r.Version // releases are sorted ascending
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no release older than %s is kept (kept: %s)", ErrNoRelease, current, versions(rels))
	}
	return best, nil
}

func versions(rels []state.Release) string {
	s := ""
	for i, r := range rels {
		if i > 0 {
			s += ", "
		}
		s += r.Version
	}
	return s
}
