package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ferry/bundle"
	"ferry/installer/state"
)

// serviceDef is one service of one release, as the installer wrote it to
// <release>/.ferry/services/<name>.json, with the fingerprint that says
// whether it changed between two releases.
type serviceDef struct {
	Component string             `json:"component"`
	Service   bundle.ServiceSpec `json:"service"`
	// Version and Dir are the release's.
	Version string `json:"-"`
	Dir     string `json:"-"`
	// Fingerprint covers the service's definition and the files of its
	// component: if neither changed, the new release runs the same code.
	Fingerprint string `json:"-"`
}

// releaseServices reads the services of release version under root.
func releaseServices(db *state.DB, root, version string) (map[string]serviceDef, error) {
	dir := filepath.Join(root, "releases", version)
	rel, err := db.Release(version)
	if err != nil {
		return nil, err
	}
	m, err := bundle.ParseManifest(rel.Manifest)
	if err != nil {
		return nil, fmt.Errorf("release %s: %w", version, err)
	}
	files := map[string][]bundle.File{}
	for _, c := range m.Components {
		files[c.Name] = c.Files
	}
	entries, err := os.ReadDir(filepath.Join(dir, ".ferry", "services"))
	if os.IsNotExist(err) {
		return map[string]serviceDef{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]serviceDef{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ".ferry", "services", e.Name()))
		if err != nil {
			return nil, err
		}
		var d serviceDef
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("release %s: service definition %s: %w", version, e.Name(), err)
		}
		d.Version, d.Dir = version, dir
		d.Fingerprint = fingerprint(d, files[d.Component])
		out[d.Service.Name] = d
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
