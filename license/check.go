package license

import (
	"fmt"
	"slices"
	"time"

	"github.com/Masterminds/semver/v3"
)

// State is where a licence stands at a moment.
type State string

// The states, in the order a licence passes through them.
const (
	StateNotYetValid State = "not-yet-valid" // before notBefore
	StateValid       State = "valid"         // from notBefore until expires
	StateGrace       State = "grace"         // from expires until expires+grace: works, with a warning
	StateExpired     State = "expired"       // from expires+grace on
)

// Status is a licence's standing at a moment.
type Status struct {
	State State
	// At is the moment judged.
	At time.Time
	// StartsIn is the time until notBefore, while not yet valid.
	StartsIn time.Duration
	// ExpiresIn is the time until expires, while valid.
	ExpiresIn time.Duration
	// GraceLeft is the time until the grace period ends, while in it.
	GraceLeft time.Duration
}

// StatusAt returns where the licence stands at now, judging time only.
func (l *License) StatusAt(now time.Time) Status {
	s := Status{At: now}
	graceEnds := l.Expires.Add(l.Grace)
	switch {
	case now.Before(l.NotBefore):
		s.State, s.StartsIn = StateNotYetValid, l.NotBefore.Sub(now)
	case now.Before(l.Expires):
		s.State, s.ExpiresIn = StateValid, l.Expires.Sub(now)
	case now.Before(graceEnds):
		s.State, s.GraceLeft = StateGrace, graceEnds.Sub(now)
	default:
		s.State = StateExpired
	}
	return s
}

// CheckInput is what a licence is checked against.
type CheckInput struct {
	// Now is the time to judge by: EffectiveNow's, so that setting the
	// clock back revives nothing. Required.
	Now time.Time
	// Product is the bundle's metadata.name; empty skips the product
	// check (a licence looked at without a bundle in hand).
	Product string
	// Version is the bundle's version (strict semver); empty skips the
	// version check.
	Version string
	// Fingerprints are this host's fingerprints (Host.Fingerprints). A
	// bound licence must match one of them; with none, it matches nothing.
	Fingerprints []string
}

// Check decides whether the licence allows in: the product, the host
// binding, the version range, and the validity window with its grace, in
// that order; the first that fails is returned (ErrWrongProduct,
// ErrWrongHost, ErrVersionNotCovered, ErrNotYetValid, ErrExpired). A
// licence in its grace period is allowed: Check returns StateGrace and a
// nil error, and the caller warns. The Status is filled in whatever the
// error.
func (l *License) Check(in CheckInput) (Status, error) {
	s := l.StatusAt(in.Now)
	if in.Now.IsZero() {
		return s, fmt.Errorf("check %s: no time to judge by", l)
	}
	if in.Product != "" && l.Product != "" && in.Product != l.Product {
		return s, fmt.Errorf("%s is for product %q, not %q: %w", l, l.Product, in.Product, ErrWrongProduct)
	}
	if l.Bind != "" && !slices.Contains(in.Fingerprints, l.Bind) {
		if len(in.Fingerprints) == 0 {
			return s, fmt.Errorf("%s is bound to host %s and this host has no fingerprint (see ferry fingerprint): %w", l, l.Bind, ErrWrongHost)
		}
		return s, fmt.Errorf("%s is bound to host %s, and this host is %s: %w", l, l.Bind, in.Fingerprints[0], ErrWrongHost)
	}
	if in.Version != "" && l.Versions != "" {
		if err := l.checkVersion(in.Version); err != nil {
			return s, err
		}
	}
	switch s.State {
	case StateNotYetValid:
		return s, fmt.Errorf("%s is valid from %s, %s after now (%s): %w", l, formatTime(l.NotBefore), roundDuration(s.StartsIn), formatTime(in.Now), ErrNotYetValid)
	case StateExpired:
		return s, fmt.Errorf("%s expired at %s and its grace of %s ended at %s (now %s); install a renewed licence: %w",
			l, formatTime(l.Expires), l.Grace, formatTime(l.Expires.Add(l.Grace)), formatTime(in.Now), ErrExpired)
	}
	return s, nil
}

func (l *License) checkVersion(version string) error {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return fmt.Errorf("check %s: version %q is not strict semver: %w", l, version, err)
	}
	c, err := semver.NewConstraint(l.Versions)
	if err != nil {
		// validate parsed it; only a License built by hand gets here.
		return fmt.Errorf("%w: %s: versions %q: %w", ErrMalformed, l, l.Versions, err)
	}
	if !c.Check(v) {
		return fmt.Errorf("%s covers versions %q, not %s: %w", l, l.Versions, version, ErrVersionNotCovered)
	}
	return nil
}

// roundDuration shortens a duration for messages: whole seconds, and whole
// minutes past an hour.
func roundDuration(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}
