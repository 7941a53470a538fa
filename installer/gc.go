package installer

import (
	"fmt"
	"path/filepath"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/installer/store"
)

// GCResult says what gc removed.
type GCResult struct {
	Refs    []string `json:"refs"`  // image names no kept release has
	Removed []string `json:"blobs"` // blob digests removed
	Freed   int64    `json:"freed"`
}

// GC removes from the store every image name and blob that no kept release
// references. It holds the appliance lock, so no install runs meanwhile.
func GC(root string) (*GCResult, error) {
	db, err := state.Open(root, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		return nil, err
	}
	keep, names, err := keptContent(db)
	if err != nil {
		return nil, err
	}
	refs, err := st.Refs()
	if err != nil {
		return nil, err
	}
	res := &GCResult{}
	var kept []store.Ref
	for _, r := range refs {
		if names[r.Name] {
			kept = append(kept, r)
		} else {
			res.Refs = append(res.Refs, r.Name)
		}
	}
	if len(res.Refs) > 0 {
		if err := st.SetRefs(kept); err != nil {
			return nil, err
		}
	}
	res.Removed, res.Freed, err = st.GC(keep)
	if err != nil {
		return nil, err
	}
	_ = db.Audit("gc", map[string]string{"blobs": fmt.Sprint(len(res.Removed)), "refs": fmt.Sprint(len(res.Refs)), "freed": fmt.Sprint(res.Freed)})
	return res, nil
}

// keptContent returns the digests and image names of the installed
// components of every kept release, from their signed manifests.
func keptContent(db *state.DB) (map[string]bool, map[string]bool, error) {
	rels, err := db.Releases()
	if err != nil {
		return nil, nil, err
	}
	keep, names := map[string]bool{}, map[string]bool{}
	for _, r := range rels {
		m, err := parseStored(r)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range installedComponents(m, r) {
			for _, d := range c.ComponentDigests() {
				keep[d] = true
			}
			for _, img := range c.Images {
				names[img.Name] = true
			}
		}
	}
	return keep, names, nil
}

// installedComponents are the components of m that release r installed.
func installedComponents(m *bundle.Manifest, r state.Release) []bundle.Component {
	chosen := map[string]bool{}
	for _, c := range r.Components {
		chosen[c] = true
	}
	var out []bundle.Component
	for _, c := range m.Components {
		if chosen[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// parseStored parses a release's stored manifest, which was verified when
// the release was installed.
func parseStored(r state.Release) (*bundle.Manifest, error) {
	m, err := bundle.ParseManifest(r.Manifest)
	if err != nil {
		return nil, fmt.Errorf("release %s: stored manifest: %w", r.Version, err)
	}
	return m, nil
}
