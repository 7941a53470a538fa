package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/Masterminds/semver/v3"

	"ferry/installer/state"
	"ferry/internal/redact"
)

// ErrNoRelease reports a rollback target that is not kept on the host.
var ErrNoRelease = errors.New("no such release on this host")

// RollbackOptions say where a rollback goes and how to reach the databases.
type RollbackOptions struct {
	// To is the kept release to make current; empty means the newest kept
	// release older than the current one.
	To string
	// DSNs are the PostgreSQL databases by logical name, as for Install.
	DSNs map[string]string
	Log  *slog.Logger
	// Secrets are the secrets the command holds, as for Install.
	Secrets *redact.Secrets
	// Cluster moves the releases' charts; nil refuses a rollback
	// between releases that have charts.
	Cluster Cluster
	// Reason says why, kept as the committed transaction's reason
	// (history, and txn.finish in the audit log): ferry serve gives the
	// cause of the rollout it aborted. Empty for an operator's rollback.
	Reason string
}

// Rollback makes a kept release current again. The databases go with it:
// migrations the target release does not have are run down (their down
// files come from the current release's manifest), and a rollback to a
// newer kept release migrates forward. It is journalled like an install,
// and activation is its commit point; a failure before it migrates back
// up what was run down and leaves the current release as it was.
func Rollback(ctx context.Context, root string, opts RollbackOptions) (string, error) {
	log, to := opts.Log, opts.To
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := state.Open(root, false)
	if err != nil {
		return "", err
	}
	defer db.Close()
	db.SetSecrets(withDSNs(opts.Secrets, opts.DSNs))
	u := newUndoer(root, opts.DSNs, log)
	u.charts = opts.Cluster
	if err := finishInterrupted(db, root, log, u); err != nil {
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
		return "", fmt.Errorf("%w: the directory of release %s: %w", ErrNoRelease, target, err)
	}
	rel, err := db.Release(target)
	if err != nil {
		return "", err
	}
	var from state.Release
	if current != "" {
		if from, err = db.Release(current); err != nil {
			return "", err
		}
	}
	txn, err := db.BeginTxn("rollback", target, rel.ManifestDigest)
	if err != nil {
		return "", err
	}
	if err := db.RecordStep(txn.ID, stepPrevious, "done", current); err != nil {
		return "", err
	}
	if opts.Reason != "" {
		if err := db.RecordStep(txn.ID, stepReason, "done", opts.Reason); err != nil {
			return "", err
		}
	}
	r := &run{db: db, txn: txn, crashAt: crashStep()}
	if u.st != nil {
		open := func(d string) (io.ReadCloser, error) { return u.st.Open(d) }
		if err := moveSchemas(ctx, r, u.dbs, open, current, target); err != nil {
			if aerr := abort(db, root, txn, err, u); aerr != nil {
				// err decides the exit code; aerr is told, not wrapped,
				// so that it cannot classify first.
				return "", fmt.Errorf("%w; undoing it: %v", err, aerr) //nolint:errorlint // see above
			}
			return "", err
		}
	}
	if err := r.moveCharts(ctx, opts.Cluster, from, rel); err != nil {
		if aerr := abort(db, root, txn, err, u); aerr != nil {
			return "", fmt.Errorf("%w; undoing it: %v", err, aerr) //nolint:errorlint // as above
		}
		return "", err
	}
	if err := r.step("activate:"+target, func() error { return activate(db, root, target) }); err != nil {
		_ = abort(db, root, txn, err, u)
		return "", err
	}
	r.crashPoint()
	if err := commit(db, txn, opts.Reason); err != nil {
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
