package installer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/internal/oci"
	"ferry/license"
	"ferry/verify"
)

// Sentinel errors of licence enforcement (those of package license come
// through as they are).
var (
	ErrLicenseRequired = errors.New("a licence is required")
	ErrNotEntitled     = errors.New("component not covered by the licence")
	ErrBundleExpired   = errors.New("bundle expired")
	ErrNoLicensePolicy = errors.New("no licence keys")
)

// Marks of the installed licence: the file as given, and the history of
// every licence installed, oldest first.
const (
	licenseMark        = "license"
	licenseHistoryMark = "license-history"
)

// LicenseRecord is one licence in the history of the host.
type LicenseRecord struct {
	ID        string    `json:"id"`
	Customer  string    `json:"customer"`
	Issued    time.Time `json:"issued"`
	Expires   time.Time `json:"expires"`
	Installed time.Time `json:"installed"`
	SHA256    string    `json:"sha256"`
}

// LicenseDecision is what a licence check decided for a bundle.
type LicenseDecision struct {
	License *license.License
	Status  license.Status
	// Skipped are the optional components left out because the licence
	// does not entitle them.
	Skipped []string
	// Given is set when the licence came with this command rather than
	// from the host.
	Given bool
	data  []byte
}

// hostFingerprints is this host's fingerprints; none is not an error here:
// only a bound licence needs one, and Check says so.
func hostFingerprints() []string {
	return license.ReadHost(os.DirFS("/")).Fingerprints()
}

// checkBundleExpiry refuses a bundle past its metadata.expires, judged by
// the clock rule.
func checkBundleExpiry(m *bundle.Manifest, c Clock) error {
	if m.Expires != nil && !c.Now.Before(*m.Expires) {
		return fmt.Errorf("%w: %s %s expired at %s (judged at %s, the later of the system clock and the latest time this host has seen)",
			ErrBundleExpired, m.Name, m.Version, m.Expires.Format(time.RFC3339), c.Now.Format(time.RFC3339))
	}
	return nil
}

// licenseTrust is the trust set of the licence keys a bundle carries.
func licenseTrust(m *bundle.Manifest) (verify.TrustSet, error) {
	var keys []*verify.PublicKey
	for i, k := range m.License.Keys {
		pk, err := verify.ParsePublicKey([]byte(k))
		if err != nil {
			return verify.TrustSet{}, fmt.Errorf("licence key %d of %s %s: %w", i, m.Name, m.Version, err)
		}
		keys = append(keys, pk)
	}
	return verify.TrustSet{Keys: keys, Threshold: 1}, nil
}

// checkLicense decides whether bundle m may be installed under the licence
// given with the command or, failing that, the one installed on the host.
// It returns nil and no error when the bundle needs no licence and none is
// at hand.
func checkLicense(db *state.DB, m *bundle.Manifest, given []byte, c Clock, fps []string, log *slog.Logger) (*LicenseDecision, error) {
	if m.License == nil {
		if given != nil {
			log.Warn("the bundle names no licence keys; the licence given is not checked and not installed", "bundle", m.Name+" "+m.Version)
		}
		return nil, nil
	}
	data := given
	if data == nil {
		var err error
		if data, err = db.Mark(licenseMark); err != nil {
			return nil, err
		}
	}
	if data == nil {
		if m.License.Required {
			return nil, fmt.Errorf("%w: %s %s needs a licence signed by the vendor; pass --license FILE or run `ferry license install FILE`", ErrLicenseRequired, m.Name, m.Version)
		}
		return nil, nil
	}
	trust, err := licenseTrust(m)
	if err != nil {
		return nil, err
	}
	lic, _, err := license.Verify(data, trust)
	if err != nil {
		return nil, licenseError(given != nil, err)
	}
	status, err := lic.Check(license.CheckInput{Now: c.Now, Product: m.Name, Version: m.Version, Fingerprints: fps})
	if err != nil {
		return nil, licenseError(given != nil, err)
	}
	if given != nil {
		if err := checkReplaces(db, lic, given); err != nil {
			return nil, err
		}
	}
	return &LicenseDecision{License: lic, Status: status, Given: given != nil, data: data}, nil
}

func licenseError(given bool, err error) error {
	if given {
		return fmt.Errorf("the licence given: %w", err)
	}
	return fmt.Errorf("the installed licence: %w", err)
}

// checkReplaces refuses a licence older than the installed one; the same
// file again is fine.
func checkReplaces(db *state.DB, lic *license.License, data []byte) error {
	old, err := db.Mark(licenseMark)
	if err != nil || old == nil || bytes.Equal(old, data) {
		return err
	}
	env, err := license.Parse(old)
	if err != nil {
		return nil // a damaged stored licence is replaced by a good one
	}
	return lic.CheckRenewal(env.License)
}

// entitle applies the licence to the selection: optional components it
// does not cover are skipped (and reported), a required one refuses the
// bundle, and so does asking for an optional one by name.
func entitle(m *bundle.Manifest, sel Selection, d *LicenseDecision) (Selection, error) {
	if d == nil || len(d.License.Components) == 0 {
		return sel, nil
	}
	out := Selection{Components: slices.Clone(sel.Components), Skip: slices.Clone(sel.Skip)}
	for _, c := range m.Components {
		if d.License.Entitled(c.Name) || slices.Contains(sel.Skip, c.Name) {
			continue
		}
		if !c.Optional {
			return sel, fmt.Errorf("%w: %s requires component %s, and %s entitles only %v", ErrNotEntitled, m.Name, c.Name, d.License, d.License.Components)
		}
		if slices.Contains(sel.Components, c.Name) {
			return sel, fmt.Errorf("%w: optional component %s was asked for, and %s entitles only %v", ErrNotEntitled, c.Name, d.License, d.License.Components)
		}
		out.Skip = append(out.Skip, c.Name)
		d.Skipped = append(d.Skipped, c.Name)
	}
	return out, nil
}

// recordLicense stores a licence given with a command that succeeded, with
// its history, and audits the decision; a licence in its grace period is
// audited as such every time it is used.
func recordLicense(db *state.DB, d *LicenseDecision, version string, c Clock, log *slog.Logger) error {
	if d == nil {
		return nil
	}
	fields := map[string]string{
		"license": d.License.ID, "customer": d.License.Customer, "version": version,
		"state": string(d.Status.State), "expires": d.License.Expires.Format(time.RFC3339),
	}
	if len(d.Skipped) > 0 {
		fields["skipped"] = fmt.Sprint(d.Skipped)
	}
	if d.Status.State == license.StateGrace {
		log.Warn("THE LICENCE HAS EXPIRED and is in its grace period: install a renewed licence before the grace ends; after it, updates are refused",
			"license", d.License.ID, "expired", d.License.Expires.Format(time.RFC3339), "grace left", d.Status.GraceLeft.Round(time.Hour).String())
		fields["grace-left"] = d.Status.GraceLeft.Round(time.Second).String()
		if err := db.Audit("license.grace", fields); err != nil {
			return err
		}
	}
	if err := db.Audit("license.checked", fields); err != nil {
		return err
	}
	if !d.Given {
		return nil
	}
	return storeLicense(db, d.License, d.data, c)
}

// storeLicense makes data the installed licence and appends it to the
// history (unless it is already the installed one).
func storeLicense(db *state.DB, lic *license.License, data []byte, c Clock) error {
	old, err := db.Mark(licenseMark)
	if err != nil {
		return err
	}
	if bytes.Equal(old, data) {
		return nil
	}
	history, err := LicenseHistory(db)
	if err != nil {
		return err
	}
	history = append(history, LicenseRecord{
		ID: lic.ID, Customer: lic.Customer, Issued: lic.Issued, Expires: lic.Expires,
		Installed: c.Now, SHA256: digestOf(data),
	})
	h, err := json.Marshal(history)
	if err != nil {
		return err
	}
	if err := db.SetMark(licenseMark, data); err != nil {
		return err
	}
	if err := db.SetMark(licenseHistoryMark, h); err != nil {
		return err
	}
	fields := map[string]string{"license": lic.ID, "customer": lic.Customer, "issued": lic.Issued.Format(time.RFC3339),
		"expires": lic.Expires.Format(time.RFC3339), "sha256": digestOf(data)}
	if len(history) > 1 {
		fields["replaces"] = history[len(history)-2].ID
	}
	return db.Audit("license.installed", fields)
}

// LicenseHistory is every licence installed on the host, oldest first,
// its times in UTC whatever zone they were recorded in, so that reports
// built from it read the same on every host.
func LicenseHistory(db *state.DB) ([]LicenseRecord, error) {
	v, err := db.Mark(licenseHistoryMark)
	if err != nil || v == nil {
		return nil, err
	}
	var out []LicenseRecord
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("%w: licence history: %w", state.ErrCorrupt, err)
	}
	for i := range out {
		r := &out[i]
		r.Issued, r.Expires, r.Installed = r.Issued.UTC(), r.Expires.UTC(), r.Installed.UTC()
	}
	return out, nil
}

func digestOf(b []byte) string {
	return oci.FromBytes(b).String()
}
