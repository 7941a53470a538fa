package license

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
)

// License is what a vendor grants one customer. The zero value of an
// optional field grants the most: any product, all components, all
// versions, unlimited nodes, any host.
type License struct {
	// ID identifies this licence: 1 to 64 characters from a-z, 0-9 and
	// '-' (Issue makes 32 random hex digits when it is empty).
	ID string `json:"id"`
	// Product is the metadata.name of the bundles the licence is for;
	// empty means any product.
	Product string `json:"product"`
	// Customer names the licensee, for people: it is shown, not matched.
	Customer string `json:"customer"`
	// Issued is when the vendor issued the licence; it orders renewals.
	Issued time.Time `json:"issued"`
	// NotBefore and Expires bound the validity: from NotBefore
	// (inclusive) until Expires (exclusive).
	NotBefore time.Time `json:"notBefore"`
	Expires   time.Time `json:"expires"`
	// Grace is how long after Expires the licence still works, with a
	// warning, so that a renewal can cross the air gap.
	Grace time.Duration `json:"grace"`
	// Components names the components the customer may install; empty
	// means all.
	Components []string `json:"components"`
	// Features are free-form names the installed software may look up.
	Features []string `json:"features"`
	// Versions is a semver constraint (">=1.0.0 <3.0.0") on the bundle
	// versions covered; empty means all.
	Versions string `json:"versions"`
	// Nodes is the number of nodes the customer may run; 0 is unlimited.
	// ferry records and shows it; whatever counts nodes enforces it.
	Nodes int `json:"nodes"`
	// Bind is a host fingerprint ("fp1:…", see Fingerprint); when set,
	// the licence works only on the host whose fingerprint it is.
	Bind string `json:"bind"`
}

// Limits on field values, so that a licence stays small and printable.
const (
	maxIDLen       = 64
	maxNameLen     = 63 // as bundle and component names
	maxTextLen     = 256
	maxFeatureLen  = 128
	maxListLen     = 256
	maxVersionsLen = 256
	maxNodes       = 1 << 30
)

var (
	idRE = regexp.MustCompile(`^[a-z0-9-]+$`)
	// nameRE is the syntax of bundle and component names in ferry.yaml.
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

// validate checks every field against the rules of docs/LICENSE.md. The
// error names the field; Parse wraps it in ErrMalformed, Issue returns it
// to the vendor.
func (l *License) validate() error {
	switch {
	case l.ID == "":
		return errors.New("id: missing")
	case len(l.ID) > maxIDLen || !idRE.MatchString(l.ID):
		return fmt.Errorf("id %.80q: want 1 to %d characters from a-z, 0-9 and '-'", l.ID, maxIDLen)
	}
	if l.Product != "" && !isName(l.Product) {
		return fmt.Errorf("product %.80q: want a bundle name (a-z, 0-9 and '-', at most %d characters) or nothing for any product", l.Product, maxNameLen)
	}
	if l.Customer == "" {
		return errors.New("customer: missing")
	}
	if err := checkText(l.Customer, maxTextLen); err != nil {
		return fmt.Errorf("customer: %w", err)
	}
	for _, t := range []struct {
		field string
		v     time.Time
	}{{"issued", l.Issued}, {"notBefore", l.NotBefore}, {"expires", l.Expires}} {
		if err := checkTime(t.v); err != nil {
			return fmt.Errorf("%s: %w", t.field, err)
		}
	}
	if l.NotBefore.After(l.Expires) {
		return fmt.Errorf("notBefore %s is after expires %s", formatTime(l.NotBefore), formatTime(l.Expires))
	}
	if l.Grace < 0 {
		return fmt.Errorf("grace %s: must not be negative", l.Grace)
	}
	if err := checkList(l.Components, func(s string) error {
		if !isName(s) {
			return fmt.Errorf("want a component name (a-z, 0-9 and '-', at most %d characters)", maxNameLen)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("components: %w", err)
	}
	if err := checkList(l.Features, func(s string) error { return checkText(s, maxFeatureLen) }); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	if l.Versions != "" {
		if len(l.Versions) > maxVersionsLen {
			return fmt.Errorf("versions: %d bytes, at most %d", len(l.Versions), maxVersionsLen)
		}
		if err := checkText(l.Versions, maxVersionsLen); err != nil {
			return fmt.Errorf("versions: %w", err)
		}
		if _, err := semver.NewConstraint(l.Versions); err != nil {
			return fmt.Errorf("versions %q: not a semver constraint such as \">=1.0.0 <3.0.0\": %w", l.Versions, err)
		}
	}
	if l.Nodes < 0 || l.Nodes > maxNodes {
		return fmt.Errorf("nodes %d: want 0 (unlimited) to %d", l.Nodes, maxNodes)
	}
	if l.Bind != "" && !isFingerprint(l.Bind) {
		return fmt.Errorf("bind %.80q: want a host fingerprint as `ferry fingerprint` prints it (%s followed by %d hex digits)", l.Bind, fingerprintPrefix, 2*fingerprintBytes)
	}
	return nil
}

func isName(s string) bool { return len(s) <= maxNameLen && nameRE.MatchString(s) }

// checkText accepts non-empty, valid UTF-8 without control characters: the
// text is printed on operators' terminals.
func checkText(s string, maxLen int) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > maxLen:
		return fmt.Errorf("%d bytes, at most %d", len(s), maxLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%.80q: not valid UTF-8", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%.80q: control characters are not allowed", s)
		}
	}
	return nil
}

// checkList checks each element of a list and that no element repeats.
func checkList(list []string, check func(string) error) error {
	if len(list) > maxListLen {
		return fmt.Errorf("%d entries, at most %d", len(list), maxListLen)
	}
	for i, s := range list {
		if err := check(s); err != nil {
			return fmt.Errorf("entry %d: %w", i+1, err)
		}
		if slices.Contains(list[:i], s) {
			return fmt.Errorf("entry %d: %q appears twice", i+1, s)
		}
	}
	return nil
}

// Entitled reports whether the licence covers the component: a licence
// without components covers all of them.
func (l *License) Entitled(component string) bool {
	return len(l.Components) == 0 || slices.Contains(l.Components, component)
}

// HasFeature reports whether the licence grants the feature.
func (l *License) HasFeature(feature string) bool {
	return slices.Contains(l.Features, feature)
}

// String names the licence for messages.
func (l *License) String() string {
	return fmt.Sprintf("licence %s for %q", l.ID, l.Customer)
}
