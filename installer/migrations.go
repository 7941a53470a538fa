package installer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"ferry/bundle"
	"ferry/installer/migrate"
	"ferry/installer/state"
	"ferry/installer/store"
)

// undoer undoes what an uncommitted transaction did outside the release
// directory: the migrations it applied and the charts it installed.
type undoer struct {
	dbs *migrate.Databases
	st  *store.Store
	// charts puts back the Helm releases the transaction changed; nil
	// when the command was given no cluster.
	charts Cluster
}

// newUndoer makes the undoer of the appliance at root; dsns are the
// PostgreSQL databases given to this command.
func newUndoer(root string, dsns map[string]string, log *slog.Logger) *undoer {
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		st = nil // no store yet: nothing was installed to undo
	}
	return &undoer{dbs: &migrate.Databases{Root: root, DSNs: dsns, Log: log}, st: st}
}

func (u *undoer) revert(db *state.DB, txn state.Txn) error {
	if u.st == nil {
		return nil
	}
	open := func(d string) (io.ReadCloser, error) { return u.st.Open(d) }
	return revertMigrations(context.Background(), u.dbs, db, txn, open)
}

// reapply migrates up again what an uncommitted rollback ran down.
func (u *undoer) reapply(db *state.DB, txn state.Txn) error {
	if u.st == nil {
		return nil
	}
	open := func(d string) (io.ReadCloser, error) { return u.st.Open(d) }
	return reapplyReverted(context.Background(), u.dbs, db, txn, open)
}

// appliedPrefix names the journal records of the migrations a transaction
// applied, per database, so that a failed or interrupted upgrade can run
// their down migrations even after a crash.
const appliedPrefix = "migrations-applied:"

// migrationApplier applies a component's migrations through package
// migrate and remembers, in the journal, what it applied.
type migrationApplier struct {
	dbs *migrate.Databases
	db  *state.DB
	txn state.Txn

	mu      sync.Mutex
	applied map[string][]int
}

func (a *migrationApplier) Apply(ctx context.Context, s Step, c bundle.Component, version string, open func(string) (io.ReadCloser, error)) error {
	for _, ms := range c.Migrations {
		if ms.Database != s.Name {
			continue
		}
		applied, err := a.dbs.Migrate(ctx, ms.Database, ms.Steps, open)
		if len(applied) > 0 {
			a.mu.Lock()
			a.applied[ms.Database] = append(a.applied[ms.Database], applied...)
			all := a.applied[ms.Database]
			a.mu.Unlock()
			if jerr := a.db.RecordStep(a.txn.ID, appliedPrefix+ms.Database, "done", joinInts(all)); jerr != nil && err == nil {
				err = jerr
			}
		}
		return err
	}
	return fmt.Errorf("no migrations for database %s in component %s", s.Name, c.Name)
}

// revertMigrations runs the down migrations that transaction txn applied,
// newest first, using the release's stored manifest for the down files.
func revertMigrations(ctx context.Context, dbs *migrate.Databases, db *state.DB, txn state.Txn, open func(string) (io.ReadCloser, error)) error {
	steps, err := db.Steps(txn.ID)
	if err != nil {
		return err
	}
	applied := map[string][]int{}
	for _, s := range steps {
		if name, ok := strings.CutPrefix(s.Name, appliedPrefix); ok && s.Phase == "done" {
			applied[name] = splitInts(s.Detail)
		}
	}
	if len(applied) == 0 {
		return nil
	}
	migs, err := releaseMigrations(db, txn.Version)
	if err != nil {
		return fmt.Errorf("the manifest of %s, needed to undo its migrations: %w", txn.Version, err)
	}
	for _, name := range slices.Sorted(maps.Keys(applied)) {
		steps := migs[name]
		if err := dbs.Revert(ctx, name, steps, applied[name], open); err != nil {
			return fmt.Errorf("undoing the migrations of database %s: %w", name, err)
		}
		_ = db.RecordStep(txn.ID, appliedPrefix+name, "undone", "")
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func splitInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}
