package state

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	bolt "go.etcd.io/bbolt"
)

// Release statuses.
const (
	StatusInstalling = "installing"
	StatusActive     = "active"
	StatusInactive   = "inactive"
	StatusFailed     = "failed"
)

// Release is one release installed, or being installed, on the appliance.
type Release struct {
	Version        string        `json:"version"`
	ManifestDigest string        `json:"manifestDigest"`
	Manifest       []byte        `json:"manifest,omitempty"`   // the raw signed manifest.json
	Signatures     [][]byte      `json:"signatures,omitempty"` // the bundle's signature entries, as read
	Components     []string      `json:"components,omitempty"` // components installed
	Status         string        `json:"status"`
	Created        time.Time     `json:"created"`
	Installed      time.Time     `json:"installed,omitzero"`
	Checks         []CheckResult `json:"checks,omitempty"` // post-activation checks
	// Config is the site configuration the release was installed with
	// (package config's Config, as JSON); absent before variables existed
	// and for a bundle that declares none.
	Config json.RawMessage `json:"config,omitempty"`
	// Rendered holds the SHA-256 digest of each template file, by its
	// destination, as rendered with Config: what `ferry check` compares.
	Rendered map[string]string `json:"rendered,omitempty"`
	// Charts are the Helm releases the release's charts were installed
	// as, with the revision each became: where `ferry rollback` returns
	// them, and what `ferry check` compares the cluster with.
	Charts []ChartRelease `json:"charts,omitempty"`
}

// ChartRelease is one chart of a release as installed into Kubernetes.
type ChartRelease struct {
	Component string `json:"component"`
	Chart     string `json:"chart"` // name-version
	Namespace string `json:"namespace"`
	Release   string `json:"release"`
	Revision  int    `json:"revision"`
	// Manifest is the SHA-256 of the release's manifest, as pinned.
	Manifest string `json:"manifest"`
	// Timeout bounds putting the release back, as its install.
	Timeout time.Duration `json:"timeout"`
}

// CheckResult is the outcome of one post-activation check.
type CheckResult struct {
	Name   string    `json:"name"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// PutRelease stores r, replacing any release of the same version. Version
// must be semver, so that releases order and anti-rollback compares them
// the same way everywhere. A zero Created is set to now; times are stored in
// UTC.
func (db *DB) PutRelease(r Release) error {
	if _, err := semver.NewVersion(r.Version); err != nil {
		return fmt.Errorf("store release %q: %w: the version is not semver: %w", r.Version, ErrInvalid, err)
	}
	switch r.Status {
	case StatusInstalling, StatusActive, StatusInactive, StatusFailed:
	default:
		return fmt.Errorf("store release %s: %w: unknown status %q (want %s, %s, %s or %s)",
			r.Version, ErrInvalid, r.Status, StatusInstalling, StatusActive, StatusInactive, StatusFailed)
	}
	if r.Created.IsZero() {
		r.Created = now()
	}
	r.Created = r.Created.UTC()
	if !r.Installed.IsZero() {
		r.Installed = r.Installed.UTC()
	}
	r.Checks = slices.Clone(r.Checks)
	for i := range r.Checks {
		r.Checks[i].At = r.Checks[i].At.UTC()
		r.Checks[i].Detail = db.text(r.Checks[i].Detail)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store release %s: %w", r.Version, err)
	}
	err = db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketReleases)
		if err != nil {
			return err
		}
		return b.Put([]byte(r.Version), data)
	})
	if err != nil {
		return fmt.Errorf("store release %s: %w", r.Version, err)
	}
	return nil
}

// Release returns the release of the given version, or ErrNotFound.
func (db *DB) Release(version string) (Release, error) {
	var r Release
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketReleases)
		if err != nil {
			return err
		}
		v := b.Get([]byte(version))
		if v == nil {
			return fmt.Errorf("%w: no such release is installed", ErrNotFound)
		}
		return decodeRelease(version, v, &r)
	})
	if err != nil {
		return Release{}, fmt.Errorf("release %s: %w", version, err)
	}
	return r, nil
}

// Releases returns every release, oldest version first by semver.
func (db *DB) Releases() ([]Release, error) {
	var rs []Release
	err := db.view(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketReleases)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r Release
			if err := decodeRelease(string(k), v, &r); err != nil {
				return err
			}
			rs = append(rs, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	slices.SortStableFunc(rs, func(a, b Release) int { return compareVersions(a.Version, b.Version) })
	return rs, nil
}

// DeleteRelease forgets the release of the given version. It is ErrNotFound
// when there is none, and ErrCurrentRelease when it is the current one:
// switch away from it first. The deletion is audited as "release.delete".
func (db *DB) DeleteRelease(version string) error {
	err := db.update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketReleases)
		if err != nil {
			return err
		}
		if b.Get([]byte(version)) == nil {
			return fmt.Errorf("%w: no such release is installed", ErrNotFound)
		}
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		if string(meta.Get([]byte(keyCurrent))) == version {
			return fmt.Errorf("%w: activate another release first", ErrCurrentRelease)
		}
		if err := b.Delete([]byte(version)); err != nil {
			return err
		}
		return appendAudit(tx, now(), "release.delete", map[string]string{"version": version})
	})
	if err != nil {
		return fmt.Errorf("delete release %s: %w", version, err)
	}
	return nil
}

// SetCurrent records version as the current release; "" records that there
// is none. The release must exist (ErrNotFound otherwise). It records state
// only: switching the <root>/current link is the installer's job. The
// change is audited as "release.current", with the previous version.
func (db *DB) SetCurrent(version string) error {
	err := db.update(func(tx *bolt.Tx) error {
		if version != "" {
			b, err := bucket(tx, bucketReleases)
			if err != nil {
				return err
			}
			if b.Get([]byte(version)) == nil {
				return fmt.Errorf("%w: no such release is installed", ErrNotFound)
			}
		}
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		previous := string(meta.Get([]byte(keyCurrent)))
		if previous == version {
			return nil
		}
		if version == "" {
			err = meta.Delete([]byte(keyCurrent))
		} else {
			err = meta.Put([]byte(keyCurrent), []byte(version))
		}
		if err != nil {
			return err
		}
		return appendAudit(tx, now(), "release.current", map[string]string{"version": version, "previous": previous})
	})
	if err != nil {
		return fmt.Errorf("set current release to %q: %w", version, err)
	}
	return nil
}

// Current returns the version of the current release, or "" when there is
// none.
func (db *DB) Current() (string, error) {
	var version string
	err := db.view(func(tx *bolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		version = string(meta.Get([]byte(keyCurrent)))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read current release: %w", err)
	}
	return version, nil
}

func decodeRelease(key string, data []byte, r *Release) error {
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("%w: release %s: %w", ErrCorrupt, key, err)
	}
	return nil
}

// compareVersions orders by semver; anything unparsable (which PutRelease
// does not store) sorts after, by its text. Versions semver holds equal
// (they differ in build metadata only, as the configuration revisions of
// one release do: 1.4.0, 1.4.0+config.2, 1.4.0+config.10) order by their
// metadata, numbers as numbers, so that the newest revision sorts last.
func compareVersions(a, b string) int {
	va, erra := semver.NewVersion(a)
	vb, errb := semver.NewVersion(b)
	switch {
	case erra == nil && errb == nil:
		if c := va.Compare(vb); c != 0 {
			return c
		}
		return compareMetadata(va.Metadata(), vb.Metadata())
	case erra == nil:
		return -1
	case errb == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

// compareMetadata orders build metadata: none first, then identifier by
// identifier, numeric ones as numbers and before the others.
func compareMetadata(a, b string) int {
	if a == "" || b == "" {
		return cmp.Compare(len(a), len(b))
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		na, erra := strconv.ParseUint(as[i], 10, 64)
		nb, errb := strconv.ParseUint(bs[i], 10, 64)
		var c int
		switch {
		case erra == nil && errb == nil:
			c = cmp.Compare(na, nb)
		case erra == nil:
			c = -1
		case errb == nil:
			c = 1
		default:
			c = cmp.Compare(as[i], bs[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}
