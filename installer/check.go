package installer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/oci"
)

// ErrDrift reports that installed content differs from the signed
// manifests.
var ErrDrift = errors.New("installed content differs from the signed manifests")

// Drift is one difference, in the manner of `rpm -V`.
type Drift struct {
	Release string `json:"release,omitempty"`
	Path    string `json:"path"`
	Kind    string `json:"kind"` // missing, changed, mode, extra
	Detail  string `json:"detail,omitempty"`
}

// Check re-hashes every installed file of the kept releases and every store
// blob they use against their signed manifests, and lists what differs.
// It returns ErrDrift (with the list) when anything does.
func Check(ctx context.Context, root string) ([]Drift, error) {
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	keep, _, err := keptContent(db)
	if err != nil {
		return nil, err
	}
	rels, err := db.Releases()
	if err != nil {
		return nil, err
	}
	var drift []Drift
	for _, r := range rels {
		d, err := checkRelease(root, r)
		if err != nil {
			return nil, err
		}
		drift = append(drift, d...)
	}
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		return nil, err
	}
	digests := make([]string, 0, len(keep))
	for d := range keep {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	sd, err := st.Check(ctx, digests, false)
	if err != nil {
		return nil, err
	}
	for _, d := range sd {
		drift = append(drift, Drift{Path: d.Path, Kind: d.Kind, Detail: d.Detail})
	}
	if len(drift) > 0 {
		return drift, fmt.Errorf("%w: %d differences", ErrDrift, len(drift))
	}
	return nil, nil
}

// checkRelease compares one release directory with its manifest: every
// file's content and mode, and anything else in the directory, ferry's
// reserved names included: an install places only the signed files (and
// the directories that hold them), so whatever else is there, a service
// definition under .ferry as much as a stray binary, is drift.
func checkRelease(root string, r state.Release) ([]Drift, error) {
	m, err := parseStored(r)
	if err != nil {
		return nil, err
	}
	dir := releaseDir(root, r.Version)
	want, dirs := map[string]bool{}, map[string]bool{".": true}
	var drift []Drift
	for _, c := range installedComponents(m, r) {
		for _, f := range c.Files {
			want[f.Dest] = true
			for d := path.Dir(f.Dest); d != "."; d = path.Dir(d) {
				dirs[d] = true
			}
			path := filepath.Join(dir, filepath.FromSlash(f.Dest))
			fi, err := os.Lstat(path)
			if errors.Is(err, fs.ErrNotExist) {
				drift = append(drift, Drift{Release: r.Version, Path: f.Dest, Kind: "missing"})
				continue
			}
			if err != nil {
				return nil, err
			}
			if !fi.Mode().IsRegular() {
				drift = append(drift, Drift{Release: r.Version, Path: f.Dest, Kind: "changed", Detail: "not a regular file"})
				continue
			}
			got, err := fileDigest(path)
			if err != nil {
				return nil, err
			}
			want := f.Digest
			if f.Template {
				// A template is checked against what it was rendered to.
				want = r.Rendered[f.Dest]
			}
			if got != want {
				drift = append(drift, Drift{Release: r.Version, Path: f.Dest, Kind: "changed", Detail: "content " + got})
			}
			if mode, _ := placedModeOf(f); fi.Mode().Perm() != mode {
				drift = append(drift, Drift{Release: r.Version, Path: f.Dest, Kind: "mode", Detail: fmt.Sprintf("%04o, signed %s, placed as %04o", fi.Mode().Perm(), f.Mode, mode)})
			}
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && dirs[rel] || want[rel] {
			return nil
		}
		drift = append(drift, Drift{Release: r.Version, Path: rel, Kind: "extra"})
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return drift, nil
}

func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return oci.FromHash(h).String(), nil
}
