package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/installer"
	"ferry/installer/state"
)

// serviceDef is one service of one release, as the release's signed
// manifest declares it, with the fingerprint that says whether it changed
// between two releases.
type serviceDef struct {
	Component string
	Service   spec.Service
	// Version and Dir are the release's.
	Version string
	Dir     string
	// Fingerprint covers the service's definition and the files of its
	// component: if neither changed, the new release runs the same code.
	Fingerprint string
}

// releaseServices returns the services of release version under root:
// those of the components it installed, from its signed manifest, which
// the state keeps since the install verified it. Nothing is read from the
// release directory: a definition planted or edited there never runs.
func releaseServices(db *state.DB, root, version string) (map[string]serviceDef, error) {
	rel, err := db.Release(version)
	if err != nil {
		return nil, err
	}
	m, err := bundle.ParseManifest(rel.Manifest)
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	installed := map[string]bool{}
	for _, c := range rel.Components {
		installed[c] = true
	}
	dir := filepath.Join(root, "releases", version)
	out := map[string]serviceDef{}
	for _, c := range m.Components {
		if !installed[c.Name] {
			continue
		}
		for _, svc := range c.Services {
			// As it runs: with the release's site configuration, so that
			// a configuration change changes the fingerprint too.
			svc, err := installer.ExpandedService(rel, root, svc)
			if err != nil {
				return nil, err
			}
			d := serviceDef{Component: c.Name, Service: svc, Version: version, Dir: dir}
			d.Fingerprint = fingerprint(d, c.Files)
			out[svc.Name] = d
		}
	}
	return out, nil
}

func fingerprint(d serviceDef, files []bundle.File) string {
	h := sha256.New()
	spec, _ := json.Marshal(d.Service)
	h.Write(spec)
	sorted := append([]bundle.File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Dest < sorted[j].Dest })
	for _, f := range sorted {
		fmt.Fprintf(h, "\n%s %s %s", f.Dest, f.Mode, f.Digest)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// currentLink is the release the `current` symlink names, "" when none.
func currentLink(root string) string {
	target, err := os.Readlink(filepath.Join(root, "current"))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}
