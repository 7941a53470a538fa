package migrate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"ferry/bundle"
)

// Revert runs the down migrations of the versions in applied, newest
// first, to roll back an upgrade whose migrations Migrate applied. Each
// runs in its own transaction with the deletion of its record.
//
// Before anything runs, every one must have a down file (else
// ErrIrreversible, naming the migration). A version no longer applied is
// skipped, so that a revert interrupted by a crash can simply run again;
// a version applied after the newest of applied is refused, since its
// down migration is not this revert's to run. A failed down migration is
// rolled back and reported as ErrMigration, naming the file.
func (d *Databases) Revert(ctx context.Context, name string, steps []bundle.Migration, applied []int, open func(digest string) (io.ReadCloser, error)) error {
	if err := checkSteps(name, steps); err != nil {
		return err
	}
	order := slices.Clone(applied)
	slices.Sort(order)
	order = slices.Compact(order)
	slices.Reverse(order)
	byVersion := map[int]bundle.Migration{}
	for _, s := range steps {
		byVersion[s.Version] = s
	}
	for _, v := range order {
		s, ok := byVersion[v]
		if !ok {
			return fmt.Errorf("database %s: revert version %d: this bundle has no migration %d", name, v, v)
		}
		if s.Down == "" {
			return fmt.Errorf("%w: database %s: %s has no down file %s", ErrIrreversible, name, upFile(s), downFile(s))
		}
	}
	if len(order) == 0 {
		return nil
	}
	t, err := d.open(ctx, name)
	if err != nil {
		return err
	}
	defer t.close()
	m, err := t.migrator(steps, open)
	if err != nil {
		return err
	}
	for _, v := range order {
		recs, err := readRecords(ctx, t.db)
		if err != nil {
			return t.errorf("read %s: %w", recordTable, err)
		}
		i := slices.IndexFunc(recs, func(r record) bool { return r.Version == v })
		if i < 0 {
			continue
		}
		s := byVersion[v]
		if recs[i].UpSHA != hexDigest(s.Up) {
			return fmt.Errorf("%w: database %s: %s was applied with sha256 %s, this bundle's has sha256 %s: its down file is not for what the database applied",
				ErrDrift, name, upFile(s), recs[i].UpSHA, hexDigest(s.Up))
		}
		if last := lastVersion(recs); last != v {
			return fmt.Errorf("database %s: cannot revert %s: the database is at version %d, applied after it and not part of this revert", name, upFile(s), last)
		}
		if err := ctx.Err(); err != nil {
			return t.errorf("stopped before %s: %w", downFile(s), err)
		}
		prev := 0
		if i > 0 {
			prev = recs[i-1].Version
		}
		start := time.Now()
		t.log.Info("reverting migration", "database", name, "file", downFile(s))
		if runErr := m.Steps(-1); runErr != nil {
			if ok, err := t.failed(ctx, downFile(s), prev, runErr); !ok {
				return err
			}
		}
		t.log.Info("migration reverted", "database", name, "file", downFile(s), "version", prev, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}
