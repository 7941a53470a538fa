package bundle

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
)

// ErrMigrationChanged reports that an update changes a migration its base
// carries: a host that applied the base's migration refuses the update
// (migration drift), so every host would. A released migration is never
// edited; a change is a new migration.
var ErrMigrationChanged = errors.New("a migration of the base has changed")

// checkBaseMigrations compares the migrations of m, whose digests are
// known, with those of the base: every migration of a base database must
// be the update's migration at the same place, with the same version and
// up file. A difference is refused, or only logged as a warning when
// allow is set.
func checkBaseMigrations(m, base *Manifest, allow bool) error {
	mine, theirs := migrationsByDatabase(m), migrationsByDatabase(base)
	var errs []error
	for _, db := range slices.Sorted(maps.Keys(theirs)) {
		if err := sameMigrations(db, theirs[db], mine[db], base.Version); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := fmt.Errorf("%w: every host that applied it refuses this update; add a new migration instead: %w", ErrMigrationChanged, errors.Join(errs...))
	if !allow {
		return err
	}
	slog.Warn("building anyway (--allow-migration-change): hosts that applied the base's migrations will refuse this update", "err", err)
	return nil
}

// sameMigrations reports the first place where cur, the update's
// migrations of database db, does not begin with old, its base's: what
// follows a difference moves along with it.
func sameMigrations(db string, old, cur []Migration, baseVersion string) error {
	for i, o := range old {
		switch {
		case i >= len(cur):
			return fmt.Errorf("database %s: %03d_%s.up.sql of base %s is gone", db, o.Version, o.Name, baseVersion)
		case cur[i].Version != o.Version:
			return fmt.Errorf("database %s: migration %d is %03d_%s.up.sql, base %s has %03d_%s.up.sql there", db, i+1, cur[i].Version, cur[i].Name, baseVersion, o.Version, o.Name)
		case cur[i].Up != o.Up:
			return fmt.Errorf("database %s: %03d_%s.up.sql has changed since base %s (%s, now %s)", db, o.Version, o.Name, baseVersion, o.Up, cur[i].Up)
		}
	}
	return nil
}

// migrationsByDatabase gathers a manifest's migrations by logical
// database, in component order.
func migrationsByDatabase(m *Manifest) map[string][]Migration {
	out := map[string][]Migration{}
	for _, c := range m.Components {
		for _, ms := range c.Migrations {
			out[ms.Database] = append(out[ms.Database], ms.Steps...)
		}
	}
	return out
}

// checkMigrations checks the update's migrations against its base's, once
// every blob is hashed: the digests are filled in for the check (finish
// fills them again).
func (b *builder) checkMigrations(m *Manifest) error {
	for _, bl := range b.order {
		for _, r := range bl.refs {
			*r = bl.digest
		}
	}
	return checkBaseMigrations(m, b.baseManifest, b.opts.AllowMigrationChange)
}
