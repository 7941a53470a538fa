package compliance

import (
	"fmt"
	"time"
)

// decideCM10 decides software usage restrictions from the licence
// evidence. It is not applicable when the current release names no
// licence keys (ferry then has nothing to enforce); satisfied only when a
// licence is installed, verifies against the release's licence keys, is
// the file ferry installed, allows the release at the report's clock (in
// its grace period, said loudly) and the audit log shows ferry checking
// it; not satisfied otherwise, naming the problem.
func decideCM10(ev *Evidence, f *finder) {
	l := ev.License
	switch {
	case l.ReadError != "":
		f.fail("the licence state could not be read: %s", l.ReadError)
		return
	case l.Release == "":
		f.na = "no release is current, so no licence applies; software usage restrictions are the organisation's"
		return
	case !l.Policy:
		f.na = fmt.Sprintf("release %s names no licence keys, so ferry checks no licence for it; software usage restrictions are then entirely the organisation's", l.Release)
		return
	}
	if l.Required {
		f.examine(currentInstalled(ev), "release %s of %s names %d licence key(s) in its signed manifest and requires a licence: ferry refuses to install or update it without one signed by those keys that covers it", l.Release, l.Product, l.Keys)
	} else {
		f.examine(currentInstalled(ev), "release %s of %s names %d licence key(s) in its signed manifest and accepts a licence without requiring one; a licence given or installed is enforced", l.Release, l.Product, l.Keys)
	}
	in := l.Installed
	for _, r := range l.History {
		if in != nil && in.Verified && r.SHA256 == in.SHA256 {
			continue // said below, with its terms
		}
		f.examine(r.Installed, "licence %s for %q, issued %s and expiring %s, was installed (file %s)", r.ID, r.Customer, stamp(r.Issued), stamp(r.Expires), r.SHA256)
	}
	licenseRefusals(ev, f)
	if in == nil {
		if l.Required {
			f.fail("no licence is installed and release %s requires one", l.Release)
		} else {
			f.na = fmt.Sprintf("release %s accepts a licence but does not require one, and none is installed; software usage restrictions are the organisation's", l.Release)
		}
		return
	}
	if !in.Verified {
		f.fail("the installed licence (file %s) is untrusted or tampered with: it does not verify against the licence keys of release %s: %s", in.SHA256, l.Release, l.Problem)
	} else {
		f.examine(in.Installed, "%s is installed (file %s): %s", licenseName(in), in.SHA256, licenseTerms(in))
		f.test(ev.Collected, "the installed licence's signature verified against the licence keys of release %s when this report was made; judged at %s (the later of the system clock and the latest time this host has seen), it is %s", l.Release, stamp(ev.Clock.Now), stateWords(l.State))
		if l.State == "grace" {
			f.test(ev.Collected, "THE LICENCE HAS EXPIRED: %s expired at %s and is in its grace period, which ends at %s (%s after %s); ferry installs and updates until then and refuses after it. Install a renewed licence now",
				licenseName(in), stamp(in.Expires), stamp(l.GraceEnds), span(l.GraceEnds.Sub(ev.Clock.Now)), stamp(ev.Clock.Now))
		}
		if l.Problem != "" {
			f.fail("the installed licence does not allow release %s: %s", l.Release, l.Problem)
		}
	}
	switch {
	case in.Recorded:
	case len(l.History) == 0:
		f.fail("the installed licence file (%s) was not installed by ferry: the host has no licence history", in.SHA256)
	default:
		last := l.History[len(l.History)-1]
		f.fail("the installed licence file (%s) is not the one ferry last installed (licence %s, file %s): it was changed or replaced behind ferry's back", in.SHA256, last.ID, last.SHA256)
	}
	if in.Verified {
		enforced(ev, in, f)
	}
	auditMustVerify(ev, f)
	switch l.State {
	case "grace":
		f.ok = fmt.Sprintf("%s is installed, verifies against the licence keys of release %s and is enforced by ferry, but IT HAS EXPIRED and is in its grace period until %s: renew it before then", licenseName(in), l.Release, stamp(l.GraceEnds))
	default:
		f.ok = fmt.Sprintf("%s is installed, verifies against the licence keys of release %s, is valid until %s and is enforced by ferry", licenseName(in), l.Release, stamp(in.Expires))
	}
}

// enforced lists the audit log's licence checks of the installed licence
// and fails when there is none: a licence nobody checked restricts
// nothing.
func enforced(ev *Evidence, in *InstalledLicense, f *finder) {
	var checks []LicenseEvent
	for _, e := range ev.License.Events {
		switch {
		case e.License != in.ID:
		case e.Event == "license.checked":
			checks = append(checks, e)
		case e.Event == "license.grace":
			f.examine(e.Time, "audit entry %d: %s was used in its grace period for version %s (%s)", e.Seq, licenseName(in), e.Version, e.Detail)
		}
	}
	if len(checks) == 0 {
		f.fail("the audit log records no check of %s (license.checked): there is no evidence that ferry enforced it", licenseName(in))
		return
	}
	last := checks[len(checks)-1]
	detail := ""
	if last.Detail != "" {
		detail = "; " + last.Detail
	}
	f.examine(last.Time, "ferry checked %s %d time(s) before installing or updating; the last check (audit entry %d) was for version %s and found it %s%s", licenseName(in), len(checks), last.Seq, last.Version, stateWords(last.State), detail)
}

// licenseRefusals lists licences and bundles ferry refused for their
// licence: evidence that the licence is enforced.
func licenseRefusals(ev *Evidence, f *finder) {
	for _, e := range ev.License.Events {
		switch e.Event {
		case "license.refused":
			f.examine(e.Time, "audit entry %d: ferry refused to install a licence: %s", e.Seq, e.Detail)
		case "install.refused", "update.refused":
			f.examine(e.Time, "audit entry %d: ferry refused bundle %s", e.Seq, e.Detail)
		}
	}
}

func licenseName(in *InstalledLicense) string {
	return fmt.Sprintf("licence %s for %q", in.ID, in.Customer)
}

// licenseTerms says what a licence grants, empty terms said as what they
// mean.
func licenseTerms(in *InstalledLicense) string {
	product := "any product"
	if in.Product != "" {
		product = "product " + in.Product
	}
	versions := "all versions"
	if in.Versions != "" {
		versions = "versions " + in.Versions
	}
	components := "all components"
	if len(in.Components) > 0 {
		components = "components " + list(in.Components)
	}
	nodes := "unlimited nodes"
	if in.Nodes > 0 {
		nodes = fmt.Sprintf("%d node(s), which ferry records but does not count", in.Nodes)
	}
	host := "any host"
	if in.Bind != "" {
		host = "host " + in.Bind + " only"
	}
	grace := in.Grace
	if d, err := time.ParseDuration(in.Grace); err == nil {
		grace = span(d)
	}
	return fmt.Sprintf("issued %s for %s, %s, %s, %s, on %s; valid from %s until %s, with a grace period of %s",
		stamp(in.Issued), product, versions, components, nodes, host, stamp(in.NotBefore), stamp(in.Expires), grace)
}

// currentInstalled is when the current release was installed.
func currentInstalled(ev *Evidence) time.Time {
	for _, r := range ev.Releases {
		if r.Current {
			return r.Installed
		}
	}
	return ev.Collected
}

// clockEvidence states the clock the report judged by and fails when the
// system clock is behind the latest time the host has seen, now or at any
// time ferry recorded: expiry is then judged by the later time, but
// records made meanwhile are stamped too early.
func clockEvidence(ev *Evidence, f *finder) {
	c := ev.Clock
	if c.Problem != "" {
		f.fail("%s", c.Problem)
		return
	}
	f.test(ev.Collected, "the system clock read %s when this report was made; the latest time this host has recorded (its clock high-water mark or newest audit entry) is %s; licence and bundle expiry are judged at the later, %s",
		stamp(c.System), stamp(c.HighWater), stamp(c.Now))
	if c.Behind {
		f.fail("the system clock (%s) is %s behind the latest time this host has seen (%s): it was set back or has lost its time; ferry judges expiry by the later time, but records made now are stamped too early. Set the clock right and find out why it went back",
			stamp(c.System), span(c.HighWater.Sub(c.System)), stamp(c.HighWater))
	}
	acks := map[uint64]ClockAcknowledgement{}
	for _, a := range c.Acknowledgements {
		acks[a.Seq] = a
		f.examine(a.Time, "audit entry %d: the organisation acknowledged the clock problems recorded before it: %s", a.Seq, a.Reason)
	}
	for _, e := range c.Events {
		if a, ok := acks[e.AcknowledgedAt]; ok {
			f.examine(e.Time, "audit entry %d: %s; acknowledged at entry %d (%s)", e.Seq, clockEventWords(e), a.Seq, stamp(a.Time))
			continue
		}
		if e.Reset {
			f.examine(e.Time, "audit entry %d: %s", e.Seq, clockEventWords(e))
			f.fail("the latest time this host had seen was reset at audit entry %d (%s): records before it may be stamped ahead of the true time, and this stays open until the organisation acknowledges it (ferry clock acknowledge)", e.Seq, stamp(e.Time))
			continue
		}
		if e.BadMark != "" {
			f.examine(e.Time, "audit entry %d: ferry found its record of the latest time the host had seen replaced by %s, which is not a time", e.Seq, e.BadMark)
			f.fail("ferry found its record of the latest time the host had seen replaced by %s at audit entry %d: state.db was changed behind ferry's back, and this stays open until the organisation has found out how", e.BadMark, e.Seq)
			continue
		}
		f.examine(e.Time, "audit entry %d: ferry found the system clock at %s, behind the latest time it had seen, %s", e.Seq, e.System, e.HighWater)
		f.fail("ferry found the system clock (%s) behind the latest time it had seen (%s) at audit entry %d; records made then are stamped too early, and this stays open until the organisation has found out why the clock went back", e.System, e.HighWater, e.Seq)
	}
}

// clockEventWords says what a clock event recorded.
func clockEventWords(e ClockEvent) string {
	switch {
	case e.Reset:
		s := fmt.Sprintf("an operator reset the latest time the host had seen from %s to %s, the system clock reading %s, because: %s", e.HighWater, e.To, e.System, e.Reason)
		if e.SignedBy != "" {
			s += "; with a clock reset statement signed by licence key " + e.SignedBy
		}
		return s
	case e.BadMark != "":
		return "ferry found its record of the latest time the host had seen replaced by " + e.BadMark + ", which is not a time"
	}
	return fmt.Sprintf("ferry found the system clock at %s, behind the latest time it had seen, %s", e.System, e.HighWater)
}

// stateWords says a licence state in a sentence.
func stateWords(state string) string {
	switch state {
	case "grace":
		return "in its grace period"
	case "not-yet-valid":
		return "not yet valid"
	}
	return state
}

// span says a duration for people: in days and hours from two days on,
// else to the second.
func span(d time.Duration) string {
	const day = 24 * time.Hour
	if d < 2*day {
		return d.Round(time.Second).String()
	}
	days, hours := int(d/day), int(d%day/time.Hour)
	if hours == 0 {
		return fmt.Sprintf("%d days", days)
	}
	return fmt.Sprintf("%d days %d hours", days, hours)
}
