package installer

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"ferry/bundle"
	"ferry/installer/migrate"
	"ferry/installer/state"
)

// revertedPrefix names the journal records of the databases whose newer
// migrations a rollback ran down, with the release whose manifest carries
// them, so that an interrupted or failed rollback can migrate them up again
// and leave the host on the release it started from, schema included.
const revertedPrefix = "migrations-reverted:"

// moveSchemas brings every database the two releases know to the schema the
// target release expects: down migrations (from the current release's
// manifest, which carries them) for versions the target does not have, or
// the target's own migrations forward when a rollback goes to a newer kept
// release. Each database is a journalled step.
func moveSchemas(ctx context.Context, r *run, dbs *migrate.Databases, open func(string) (io.ReadCloser, error), current, target string) error {
	if current == "" {
		return nil
	}
	from, err := releaseMigrations(r.db, current)
	if err != nil {
		return err
	}
	to, err := releaseMigrations(r.db, target)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(from))
	for n := range to {
		if _, ok := from[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		have, dirty, err := dbs.Version(ctx, name)
		if err != nil {
			return fmt.Errorf("database %s: %w", name, err)
		}
		if dirty {
			return fmt.Errorf("database %s is dirty at version %d: repair it before a rollback", name, have)
		}
		want := lastMigration(to[name])
		switch {
		case have > want:
			var down []int
			for _, s := range from[name] {
				if s.Version > want && s.Version <= have {
					down = append(down, s.Version)
				}
			}
			if err := r.db.RecordStep(r.txn.ID, revertedPrefix+name, state.PhaseStarted, current); err != nil {
				return err
			}
			err := r.step("schema:"+name, func() error {
				return dbs.Revert(ctx, name, from[name], down, open)
			})
			if err != nil {
				return err
			}
		case have < want:
			err := r.step("schema:"+name, func() error {
				applied, err := dbs.Migrate(ctx, name, to[name], open)
				if len(applied) > 0 {
					if jerr := r.db.RecordStep(r.txn.ID, appliedPrefix+name, "done", joinInts(applied)); jerr != nil && err == nil {
						err = jerr
					}
				}
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// reapplyReverted migrates up again the databases an uncommitted rollback
// ran down, with the migrations of the release it started from.
func reapplyReverted(ctx context.Context, dbs *migrate.Databases, db *state.DB, txn state.Txn, open func(string) (io.ReadCloser, error)) error {
	steps, err := db.Steps(txn.ID)
	if err != nil {
		return err
	}
	last := map[string]state.Step{}
	var order []string
	for _, s := range steps {
		name, ok := strings.CutPrefix(s.Name, revertedPrefix)
		if !ok {
			continue
		}
		if _, seen := last[name]; !seen {
			order = append(order, name)
		}
		last[name] = s
	}
	for _, name := range order {
		s := last[name]
		if s.Phase != state.PhaseStarted {
			continue
		}
		migs, err := releaseMigrations(db, s.Detail)
		if err != nil {
			return err
		}
		if _, err := dbs.Migrate(ctx, name, migs[name], open); err != nil {
			return fmt.Errorf("migrating database %s up again to release %s: %w", name, s.Detail, err)
		}
		if err := db.RecordStep(txn.ID, revertedPrefix+name, state.PhaseUndone, s.Detail); err != nil {
			return err
		}
	}
	return nil
}

// releaseMigrations is the migrations of a kept release, by database.
func releaseMigrations(db *state.DB, version string) (map[string][]bundle.Migration, error) {
	rel, err := db.Release(version)
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	m, err := parseStored(rel)
	if err != nil {
		return nil, err
	}
	out := map[string][]bundle.Migration{}
	for _, c := range m.Components {
		for _, ms := range c.Migrations {
			out[ms.Database] = append(out[ms.Database], ms.Steps...)
		}
	}
	return out, nil
}

func lastMigration(steps []bundle.Migration) int {
	last := 0
	for _, s := range steps {
		last = max(last, s.Version)
	}
	return last
}
