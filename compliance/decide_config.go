package compliance

import (
	"fmt"
	"strings"

	"ferry/config"
)

// decideCM6 decides CM-6 (configuration settings) from the site
// configuration: the settings a bundle declares (typed, constrained,
// checked before they are applied), the values in force with their
// sources, every revision kept and every change the audit log recorded.
// A secret is shown only as set or unset.
func decideCM6(ev *Evidence, f *finder) {
	if ev.Current == "" {
		f.fail("no release is current")
		return
	}
	declared := false
	for _, c := range ev.Configurations {
		declared = declared || len(c.Values) > 0
	}
	if !declared {
		f.na = "no release on the appliance declares site configuration settings (variables): every setting is fixed in its signed bundle, which CM-8 and SI-7 cover"
		return
	}
	inForce := false
	for _, c := range ev.Configurations {
		role := "kept"
		if c.Release == ev.Current {
			role, inForce = "in force", true
		}
		f.examine(ev.Collected, "configuration revision %d of release %s (%s): %s", c.Revision, c.Release, role, configValues(c))
	}
	if !inForce {
		f.fail("the current release %s has no recorded configuration", ev.Current)
	}
	for _, ch := range ev.ConfigChanges {
		what := "given " + orNone(ch.Given)
		if ch.Changed != "" {
			what += ", changed " + ch.Changed
		}
		if ch.From != "" {
			what += ", from release " + ch.From
		}
		if ch.Reason != "" {
			what += ", " + ch.Reason
		}
		f.examine(ch.Time, "audit entry %d: configuration revision %s of release %s applied (%s)", ch.Seq, ch.Revision, ch.Release, what)
	}
	auditMustVerify(ev, f)
	integrity(ev, f)
	f.ok = "the site's configuration settings are declared in the signed bundle with their types and constraints, every value was checked against them before it was applied, each change is a journalled, audited revision, the values in force and every kept revision are listed with their sources (secrets withheld), and the files rendered from them match what was rendered"
}

// configValues lists a configuration's values with their sources; a
// secret only as set or unset.
func configValues(c config.Report) string {
	if len(c.Values) == 0 {
		return "no variables"
	}
	out := make([]string, 0, len(c.Values))
	for _, v := range c.Values {
		switch {
		case v.Secret && v.Set:
			out = append(out, fmt.Sprintf("%s (secret) set, %s", v.Name, v.Source))
		case !v.Set:
			out = append(out, fmt.Sprintf("%s (%s) unset", v.Name, v.Type))
		default:
			out = append(out, fmt.Sprintf("%s (%s) = %q, %s", v.Name, v.Type, v.Value, v.Source))
		}
	}
	return strings.Join(out, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
