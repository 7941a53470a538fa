package compliance

import (
	"fmt"
	"strings"
	"time"

	"ferry/bundle"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/internal/oci"
	"ferry/license"
)

// The installer's marks of the installed licence file and of the latest
// time the host has seen.
const (
	licenseMark = "license"
	clockMark   = "clock-high-water"
)

// collectClock reads the clock the installer judges expiry by
// (installer.ReadClock: the later of the system clock, now, and the
// high-water mark) and the times ferry found the clock behind or the mark
// not a time.
func collectClock(db *state.DB, log []state.AuditEntry, now time.Time) Clock {
	c := Clock{System: now, Now: now, Tolerance: installer.ClockTolerance}
	for _, e := range log {
		switch e.Event {
		case "clock.behind":
			c.Events = append(c.Events, ClockEvent{Seq: e.Seq, Time: e.Time.UTC(), System: e.Fields["system"], HighWater: e.Fields["high-water"]})
		case "clock.mark-invalid":
			c.Events = append(c.Events, ClockEvent{Seq: e.Seq, Time: e.Time.UTC(), BadMark: e.Fields["mark"]})
		case "clock.reset":
			c.Events = append(c.Events, ClockEvent{Seq: e.Seq, Time: e.Time.UTC(), System: e.Fields["system"], HighWater: e.Fields["from"],
				Reset: true, To: e.Fields["to"], Reason: e.Fields["reason"], SignedBy: e.Fields["signed-by"]})
		case "clock.acknowledged":
			c.Acknowledgements = append(c.Acknowledgements, ClockAcknowledgement{Seq: e.Seq, Time: e.Time.UTC(), Reason: e.Fields["reason"]})
			for i := range c.Events {
				if c.Events[i].AcknowledgedAt == 0 {
					c.Events[i].AcknowledgedAt = e.Seq
				}
			}
		}
	}
	r, err := installer.ReadClock(db, now)
	if err != nil {
		c.Problem = "the latest time this host has seen could not be read: " + err.Error()
		return c
	}
	c.Now, c.HighWater, c.Behind = r.Now, r.HighWater, r.Behind
	if r.BadMark != "" {
		c.Problem = fmt.Sprintf("the %s mark %.64q is not a time: state.db was changed behind ferry's back", clockMark, r.BadMark)
	}
	return c
}

// lastClockAcknowledgement is the sequence number of the last
// clock.acknowledged entry of the log (0: none).
func lastClockAcknowledgement(log []state.AuditEntry) uint64 {
	var seq uint64
	for _, e := range log {
		if e.Event == "clock.acknowledged" {
			seq = e.Seq
		}
	}
	return seq
}

// collectLicense reads the licence standing of the current release (at
// version, from manifest m, nil when it cannot be read).
//
// installer.DescribeLicenseAt says whether the release names licence
// keys, whether the stored licence verifies against them and how it stands
// at the evidence's clock reading, so that the whole report speaks of one
// moment and the same state and time give the same report; it also gives
// the history. fps are the host's fingerprints, for licences bound to a
// host.
func collectLicense(db *state.DB, log []state.AuditEntry, clock Clock, version string, m *bundle.Manifest, fps []string) License {
	lic := License{Release: version, UpdatesAllowed: true, Events: enforcementEvents(log)}
	if m != nil {
		lic.Product = m.Name
		if m.License != nil {
			lic.Keys = len(m.License.Keys)
		}
	}
	info, err := installer.DescribeLicenseAt(db, fps, clock.System)
	if err != nil {
		lic.ReadError = err.Error()
		return lic
	}
	lic.Policy, lic.Required, lic.History = info.Policy, info.Required, info.History
	data, err := db.Mark(licenseMark)
	if err != nil {
		lic.ReadError = err.Error()
		return lic
	}
	if data != nil {
		lic.Installed = storedLicense(data, lic.History)
	}
	if !lic.Policy {
		return lic
	}
	switch {
	case data == nil:
		if lic.Required {
			lic.Problem, lic.UpdatesAllowed = info.Problem, false
		}
	case info.License == nil:
		// The file does not verify against the release's licence keys.
		lic.Problem, lic.UpdatesAllowed = info.Problem, false
	default:
		l := info.License
		in := lic.Installed
		in.Verified = true
		in.ID, in.Customer, in.Product = l.ID, l.Customer, l.Product
		in.Issued, in.NotBefore, in.Expires = l.Issued.UTC(), l.NotBefore.UTC(), l.Expires.UTC()
		in.Grace, in.Components, in.Versions, in.Nodes, in.Bind = l.Grace.String(), l.Components, l.Versions, l.Nodes, l.Bind
		// info judged the licence at the report's clock (the same system
		// reading and high-water mark as collectClock's).
		lic.State = string(info.State)
		if info.State == license.StateGrace {
			lic.GraceEnds = l.Expires.Add(l.Grace).UTC()
		}
		if !info.UpdatesAllowed {
			lic.Problem, lic.UpdatesAllowed = info.Problem, false
		}
	}
	return lic
}

// storedLicense describes the stored licence file before anything in it
// is trusted: its digest, and whether it is the file ferry last installed.
func storedLicense(data []byte, history []LicenseRecord) *InstalledLicense {
	in := &InstalledLicense{SHA256: oci.FromBytes(data).String()}
	for i, r := range history {
		if r.SHA256 == in.SHA256 {
			in.Installed = r.Installed
			in.Recorded = i == len(history)-1
		}
	}
	return in
}

// enforcementEvents picks from the audit log the entries of licence
// enforcement.
func enforcementEvents(log []state.AuditEntry) []LicenseEvent {
	var out []LicenseEvent
	for _, e := range log {
		f := e.Fields
		ev := LicenseEvent{Seq: e.Seq, Time: e.Time.UTC(), Event: e.Event, License: f["license"], Customer: f["customer"], Version: f["version"], State: f["state"]}
		switch e.Event {
		case "license.installed":
			ev.Detail = "issued " + f["issued"] + ", expires " + f["expires"] + ", file " + f["sha256"]
			if f["replaces"] != "" {
				ev.Detail += ", replacing licence " + f["replaces"]
			}
		case "license.checked":
			if f["skipped"] != "" {
				ev.Detail = "optional components the licence does not entitle were skipped: " + f["skipped"]
			}
		case "license.grace":
			ev.Detail = "expired at " + f["expires"] + ", grace left " + f["grace-left"]
		case "license.refused":
			ev.Detail = f["error"]
		case "install.refused", "update.refused":
			if !aboutLicense(f["error"]) {
				continue
			}
			ev.Detail = f["bundle"] + ": " + f["error"]
		default:
			continue
		}
		out = append(out, ev)
	}
	return out
}

// aboutLicense reports whether a refusal's error is about the licence:
// every licence error of the installer says "licence".
func aboutLicense(msg string) bool {
	return strings.Contains(msg, "licence")
}
