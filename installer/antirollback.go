package installer

import (
	"ferry/bundle"
	"ferry/installer/state"
	"ferry/updates"
)

// highestMark is the state mark that holds the highest version ever
// activated: anti-rollback must survive the removal of old releases.
const highestMark = "highest-version"

// checkVersion applies the update policy (package updates) to bundle m,
// whose manifest digest is digest, on the host of db, whose current
// release is current: a version the host holds from another bundle is a
// conflict; the current bundle again is a no-op for an install (noop) and
// a replay for an update; any other version must be above the current one
// and not below the highest ever activated.
func checkVersion(db *state.DB, m *bundle.Manifest, digest, current string, update bool) (noop bool, err error) {
	// The release in force may be a configuration revision of this very
	// bundle (VERSION+config.N): the bundle is then current.
	if current != "" && current != m.Version {
		if rel, err := db.Release(current); err == nil && rel.ManifestDigest == digest && rel.Status == statusActive {
			b := updates.Bundle{Name: m.Name, Version: m.Version, Digest: digest}
			same, err := updates.SameVersion(b, updates.Held{Digest: digest, Current: true}, update)
			return same == updates.NoOp, err
		}
	}
	if rel, err := db.Release(m.Version); err == nil {
		b := updates.Bundle{Name: m.Name, Version: m.Version, Digest: digest}
		held := updates.Held{Digest: rel.ManifestDigest, Current: current == m.Version && rel.Status == statusActive}
		same, err := updates.SameVersion(b, held, update)
		if err != nil || same == updates.NoOp {
			return same == updates.NoOp, err
		}
	}
	if current != "" {
		if err := updates.CheckNewer(m.Version, current); err != nil {
			return false, err
		}
	}
	return false, notBelowHighest(db, m.Version)
}

// highest is the highest version ever activated on the host of db, "" for
// none.
func highest(db *state.DB) (string, error) {
	b, err := db.Mark(highestMark)
	return string(b), err
}

// notBelowHighest refuses a version older than the highest ever activated
// on this host.
func notBelowHighest(db *state.DB, version string) error {
	h, err := highest(db)
	if err != nil {
		return err
	}
	return updates.CheckNotBelow(version, h)
}

// raiseHighest records version as the highest ever activated, if it is.
func raiseHighest(db *state.DB, version string) error {
	h, err := highest(db)
	if err != nil {
		return nil // as before: a mark that cannot be read is left alone
	}
	mark, ok := updates.Raise(h, version)
	if !ok {
		return nil // an older release re-activated by rollback
	}
	return db.SetMark(highestMark, []byte(mark))
}
