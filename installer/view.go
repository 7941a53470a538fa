package installer

import (
	"errors"
	"os"
	"path/filepath"

	"ferry/installer/state"
	"ferry/installer/store"
)

// HostView is what a plan looks like against an appliance: what is
// current and how much of the content is already there.
type HostView struct {
	Current string `json:"current"`
	Needed  int    `json:"needed"`
	Stored  int    `json:"stored"`
}

// View compares plan p with the appliance at root, reading only.
func View(root string, p *Plan) (*HostView, error) {
	v := &HostView{Needed: len(p.Needed())}
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
