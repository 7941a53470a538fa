package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"ferry/bundle"
	"ferry/installer/migrate"
	"ferry/installer/state"
	"ferry/installer/store"
)

// HostView is what a plan looks like against an appliance: what is
// current and how much of the content is already there.
type HostView struct {
	Current   string         `json:"current"`
	Needed    int            `json:"needed"`
	Stored    int            `json:"stored"`
	Databases []DatabaseView `json:"databases,omitempty"`
}

// DatabaseView is where a database stands against the plan's migrations.
type DatabaseView struct {
	Name    string `json:"name"`
	Version int    `json:"version"` // applied now (0: none)
	Target  int    `json:"target"`  // the bundle's newest
	Pending int    `json:"pending"`
	// Unknown says why the version could not be read (a PostgreSQL
	// database given no DSN, an unreachable server).
	Unknown string `json:"unknown,omitempty"`
}

// View compares plan p of manifest m with the appliance at root, reading
// only; dsns are PostgreSQL databases by name.
func View(ctx context.Context, root string, p *Plan, m *bundle.Manifest, dsns map[string]string) (*HostView, error) {
	v := &HostView{Needed: len(p.Needed())}
	v.Databases = databaseViews(ctx, root, p, m, dsns)
	if _, err := os.Stat(filepath.Join(root, "state.db")); errors.Is(err, os.ErrNotExist) {
		return v, nil // nothing installed yet
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if v.Current, err = db.Current(); err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		return v, nil // no store yet
	}
	for _, d := range p.Needed() {
		if has, err := st.Has(d); err == nil && has {
			v.Stored++
		}
	}
	return v, nil
}

// databaseViews reads each planned database's version without changing it.
func databaseViews(ctx context.Context, root string, p *Plan, m *bundle.Manifest, dsns map[string]string) []DatabaseView {
	chosen := map[string]bool{}
	for _, c := range p.Components {
		chosen[c] = true
	}
	dbs := &migrate.Databases{Root: root, DSNs: dsns}
	var out []DatabaseView
	for _, c := range m.Components {
		if !chosen[c.Name] {
			continue
		}
		for _, ms := range c.Migrations {
			dv := DatabaseView{Name: ms.Database}
			for _, st := range ms.Steps {
				dv.Target = max(dv.Target, st.Version)
			}
			ver, _, err := dbs.Version(ctx, ms.Database)
			if err != nil {
				dv.Unknown = migrate.Redact(err.Error())
			} else {
				dv.Version = ver
				for _, st := range ms.Steps {
					if st.Version > ver {
						dv.Pending++
					}
				}
			}
			out = append(out, dv)
		}
	}
	return out
}
