package updates

import (
	"errors"
	"fmt"

	"github.com/Masterminds/semver/v3"
)

// Sentinel errors of the update policy. Package installer returns them as
// its own, and the command line gives each an exit code.
var (
	ErrNotNewer = errors.New("bundle is not newer than the installed release")
	ErrConflict = errors.New("version already installed from another bundle")
	ErrReplay   = errors.New("this update is already applied")
)

// Compare orders two release versions, which are strict semantic
// versions: -1 when a is older than b, 0 when they are equal, +1 when a
// is newer.
func Compare(a, b string) (int, error) {
	va, err := semver.StrictNewVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := semver.StrictNewVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// CheckNewer refuses a version that is not above current, the release a
// host runs: going back is `ferry rollback`, to a kept release.
func CheckNewer(version, current string) error {
	c, err := Compare(version, current)
	if err != nil {
		return err
	}
	if c <= 0 {
		return fmt.Errorf("%w: %s is installed, this bundle is %s; %s", ErrNotNewer, current, version, rollbackHint(version))
	}
	return nil
}

// rollbackHint says how a host makes version current when a bundle of it
// is refused: a release the host keeps is made current again by
// `ferry rollback --to`, which moves forward as well as back, so that
// re-installing a version rolled back from needs no bundle.
func rollbackHint(version string) string {
	return fmt.Sprintf("if the host keeps %s, `ferry rollback --to %s` makes it current again (it moves forward too)", version, version)
}

// CheckNotBelow refuses a version older than highest, the highest version
// a host has ever activated ("" for none). It is the anti-rollback rule:
// it holds after the older releases are removed, and a rollback, which
// re-activates a kept release, does not lower highest.
func CheckNotBelow(version, highest string) error {
	if highest == "" {
		return nil
	}
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return err
	}
	h, err := semver.StrictNewVersion(highest)
	if err != nil {
		return fmt.Errorf("the highest-version mark in the state is damaged: %w", err)
	}
	if v.LessThan(h) {
		return fmt.Errorf("%w: %s has been installed on this host, this bundle is %s; %s", ErrNotNewer, h, version, rollbackHint(version))
	}
	return nil
}

// Raise is the highest-version mark after version is activated on a host
// whose mark is highest: version when it is not below the mark, and
// otherwise (an older release re-activated by rollback, or a mark or
// version that is not a version) no change, reported by ok false.
func Raise(highest, version string) (mark string, ok bool) {
	if CheckNotBelow(version, highest) != nil {
		return highest, false
	}
	return version, true
}

// Bundle is what the policy needs of a bundle: its name, version and the
// digest of its signed manifest.
type Bundle struct {
	Name, Version, Digest string
}

// Held is the release a host holds of a bundle's version.
type Held struct {
	// Digest is the manifest digest the release was installed from.
	Digest string
	// Current is set when it is the current, active release.
	Current bool
}

// Same is what SameVersion decides.
type Same int

const (
	// Proceed means the bundle goes on to the other checks.
	Proceed Same = iota
	// NoOp means the bundle is installed and current; installing it
	// again does nothing.
	NoOp
)

// SameVersion decides a bundle whose version a host already holds: from
// another bundle it is a conflict (one version, one content); the current
// release again is a no-op for an install and a replay for an update,
// which must say that it applied nothing. Any other held release (a kept
// one, rolled back from) proceeds.
func SameVersion(b Bundle, held Held, update bool) (Same, error) {
	if held.Digest != b.Digest {
		return Proceed, fmt.Errorf("%w: %s %s is installed from bundle %s, this is %s", ErrConflict, b.Name, b.Version, held.Digest, b.Digest)
	}
	if !held.Current {
		return Proceed, nil
	}
	if update {
		return Proceed, fmt.Errorf("%w: %s %s (%s) is current", ErrReplay, b.Name, b.Version, b.Digest)
	}
	return NoOp, nil
}
