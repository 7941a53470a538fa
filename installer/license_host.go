package installer

import (
	"fmt"
	"log/slog"
	"time"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/license"
)

// InstallLicense installs (or renews) the host's licence for its current
// release: the file must be signed by a licence key the current release's
// bundle carries, cover that release, and be newer than the licence it
// replaces. The replaced licence stays in the history.
func InstallLicense(root string, data []byte, fps []string, log *slog.Logger) (*LicenseDecision, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := state.Open(root, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := finishInterrupted(db, root, log, newUndoer(root, nil, log)); err != nil {
		return nil, err
	}
	m, err := currentManifest(db)
	if err != nil {
		return nil, err
	}
	if m.License == nil {
		return nil, fmt.Errorf("%w: release %s of %s names no licence keys, so no licence can be checked for it", ErrNoLicensePolicy, m.Version, m.Name)
	}
	clock, err := observeClock(db, log)
	if err != nil {
		return nil, err
	}
	if fps == nil {
		fps = hostFingerprints()
	}
	d, err := checkLicense(db, m, data, clock, fps, log)
	if err != nil {
		_ = db.Audit("license.refused", map[string]string{"outcome": OutcomeRefused, "error": err.Error()})
		return nil, err
	}
	return d, recordLicense(db, d, m.Version, clock, log)
}

// currentManifest is the stored manifest of the current release.
func currentManifest(db *state.DB) (*bundle.Manifest, error) {
	current, err := db.Current()
	if err != nil {
		return nil, err
	}
	if current == "" {
		return nil, fmt.Errorf("%w: nothing is installed (give the licence to `ferry install --license`)", ErrNoRelease)
	}
	rel, err := db.Release(current)
	if err != nil {
		return nil, err
	}
	return parseStored(rel)
}

// LicenseInfo is the host's licence as `ferry license show` and `ferry
// status` report it.
type LicenseInfo struct {
	// Required says the current release needs a licence.
	Required bool `json:"required"`
	// Policy says the current release names licence keys at all.
	Policy  bool             `json:"policy"`
	License *license.License `json:"license,omitempty"`
	State   license.State    `json:"state,omitempty"`
	// Problem is why the installed licence does not allow updates (empty
	// when it does, or when no licence is needed).
	Problem string `json:"problem,omitempty"`
	// UpdatesAllowed says whether an update would pass the licence check
	// today (for the current release's product and version; a newer
	// version may still be outside the licence's range).
	UpdatesAllowed bool            `json:"updatesAllowed"`
	GraceLeft      time.Duration   `json:"graceLeft,omitempty"`
	ExpiresIn      time.Duration   `json:"expiresIn,omitempty"`
	Clock          Clock           `json:"clock"`
	History        []LicenseRecord `json:"history,omitempty"`
}

// ShowLicense reports the host's licence without changing anything.
// Services keep running whatever it says: a licence never stops a running
// site; only installs and updates are refused.
func ShowLicense(root string, fps []string) (*LicenseInfo, error) {
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return DescribeLicense(db, fps)
}

// DescribeLicense is ShowLicense on an open state database; fps nil reads
// the host's fingerprints.
func DescribeLicense(db *state.DB, fps []string) (*LicenseInfo, error) {
	return DescribeLicenseAt(db, fps, time.Now())
}

// DescribeLicenseAt is DescribeLicense with the system clock reading
// given, so that a report judges everything at one moment.
func DescribeLicenseAt(db *state.DB, fps []string, system time.Time) (*LicenseInfo, error) {
	clock, err := ReadClock(db, system)
	if err != nil {
		return nil, err
	}
	info := &LicenseInfo{Clock: clock, UpdatesAllowed: true}
	if info.History, err = LicenseHistory(db); err != nil {
		return nil, err
	}
	data, err := db.Mark(licenseMark)
	if err != nil {
		return nil, err
	}
	m, err := currentManifest(db)
	if err != nil {
		return info, nil // nothing installed: nothing to say
	}
	if m.License == nil {
		return info, nil
	}
	info.Policy, info.Required = true, m.License.Required
	if data == nil {
		if info.Required {
			info.UpdatesAllowed = false
			info.Problem = "no licence is installed and release " + m.Version + " requires one"
		}
		return info, nil
	}
	if fps == nil {
		fps = hostFingerprints()
	}
	trust, err := licenseTrust(m)
	if err != nil {
		return nil, err
	}
	lic, _, err := license.Verify(data, trust)
	if err != nil {
		info.UpdatesAllowed, info.Problem = false, err.Error()
		return info, nil
	}
	info.License = lic
	st, err := lic.Check(license.CheckInput{Now: clock.Now, Product: m.Name, Version: m.Version, Fingerprints: fps})
	info.State, info.GraceLeft, info.ExpiresIn = st.State, st.GraceLeft, st.ExpiresIn
	if err != nil {
		info.UpdatesAllowed, info.Problem = false, err.Error()
	}
	return info, nil
}
