package compliance

import (
	"fmt"
	"strings"
	"time"
)

// assessor decides one control from the evidence: its status, a summary
// and the evidence items, and what remains the organisation's to show.
type assessor struct {
	id           string
	organisation string
	decide       func(ev *Evidence, f *finder)
}

// finder collects one finding's evidence and the reasons it fails.
type finder struct {
	items    []Item
	failures []string
	na       string
	ok       string
}

func (f *finder) examine(at time.Time, format string, args ...any) {
	f.items = append(f.items, Item{Description: fmt.Sprintf(format, args...), Time: at.UTC(), Method: Examine})
}

func (f *finder) test(at time.Time, format string, args ...any) {
	f.items = append(f.items, Item{Description: fmt.Sprintf(format, args...), Time: at.UTC(), Method: Test})
}

func (f *finder) fail(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

// Assess maps the evidence to findings, one per control ferry reports on,
// in catalog order. A control is satisfied only when its evidence is
// present and nothing in it fails; a control that depends on something
// this ferry or appliance does not have is not applicable, with the reason.
func Assess(ev *Evidence) []Finding {
	cat, err := LoadCatalog()
	if err != nil {
		// The catalog is compiled in and checked by the tests.
		panic(err)
	}
	var out []Finding
	for _, a := range assessors() {
		c, _ := cat.Control(a.id)
		f := &finder{}
		a.decide(ev, f)
		fd := Finding{
			Control: a.id, Label: c.Label(), Title: c.FullTitle(), Statement: c.Statement(),
			StatementID: c.StatementID(), Evidence: f.items, Organisation: a.organisation, Time: ev.Collected,
		}
		switch {
		case f.na != "":
			fd.Status, fd.Summary = NotApplicable, f.na
		case len(f.failures) > 0:
			fd.Status, fd.Summary = NotSatisfied, strings.Join(f.failures, "; ")
		case len(f.items) == 0:
			fd.Status, fd.Summary = NotSatisfied, "no evidence was found"
		default:
			fd.Status, fd.Summary = Satisfied, f.ok
		}
		out = append(out, fd)
	}
	return out
}

// assessors are the controls ferry reports on, in catalog order, each with
// how it is decided. This list also chooses the catalog subset embedded.
func assessors() []assessor {
	return []assessor{
		{id: "au-2", decide: decideAU2,
			organisation: "AU-2 b to e: coordinating event logging with other organisational entities, choosing which event types are logged and how often, the rationale, and reviewing that selection. ferry logs every event type below, always."},
		{id: "au-3", decide: decideAU3,
			organisation: "The identity of the person who ran ferry: ferry records the objects of each event (versions, bundle digests, key ids) but not the operating-system user, which the host's own logs (login records, auditd) must attribute."},
		{id: "au-8", decide: decideAU8,
			organisation: "The granularity the organisation requires, the synchronisation of the host clock with an authoritative time source, and finding out why the clock went back whenever ferry found it behind the latest time the host had seen."},
		{id: "au-9", decide: decideAU9,
			organisation: "AU-9 b: alerting the organisation's personnel when the audit log is found altered; keeping the audit head (entry count and last hash, stated in this report) somewhere else, so that a state.db rewritten as a whole is detected; restricting who may log in as the root's owner."},
		{id: "cm-6", decide: decideCM6,
			organisation: "CM-6 a and c: establishing the settings from the organisation's configuration baselines (for example STIG or CIS benchmarks) and documenting and approving any deviation from them; approving each change before `ferry config set` applies it; the settings of the host and of software beyond the variables the bundle declares."},
		{id: "cm-7.5", decide: decideCM75,
			organisation: "CM-7(5) a and c: deciding which vendors' release keys are trusted (the list of authorised software) and reviewing it at the organisation's frequency; controlling what else executes on the host, which ferry does not govern."},
		{id: "cm-8", decide: decideCM8,
			organisation: "Reviewing and updating the inventory at the organisation's frequency, and the inventory of host components that ferry did not install."},
		{id: "cm-10", decide: decideCM10,
			organisation: "The contract terms themselves and using the software in accordance with them and with copyright law beyond what the licence file states; counting nodes, users or copies (ferry records a licence's node count but counts nothing); the licences of third-party software inside the bundles and of software ferry did not install; CM-10 c, peer-to-peer file sharing. Where the current release names no licence keys, all usage restrictions are the organisation's."},
		{id: "cm-14", decide: decideCM14,
			organisation: "Approving the keys that may sign software for this appliance (the trust store reflects that approval, it does not make it)."},
		{id: "cp-7", decide: decideCP7,
			organisation: "CP-7 a to c: the agreements for the alternate sites, the time within which the services must resume, making the data and supplies the services need available there (data replication belongs to the database's own engine), and equivalent protections at each site."},
		{id: "cp-10", decide: decideCP10,
			organisation: "The recovery time and point objectives, backups of the data the services keep, and recovering the host itself; ferry returns releases and traffic, not data."},
		{id: "sa-10.1", decide: decideSA101,
			organisation: "Requiring integrity verification of the developer contractually: ferry shows that the vendor's bundles carry it."},
		{id: "sc-8", decide: decideSC8,
			organisation: "Which transmissions must be protected, keeping the site CA's key off the sites, and the protection of the services' own traffic to their clients."},
		{id: "sc-13", decide: decideSC13,
			organisation: "SC-13 a: deciding the cryptographic uses and which types of cryptography each requires (for example FIPS-validated cryptography)."},
		{id: "si-7", decide: decideSI7,
			organisation: "SI-7 b: the actions to take when an unauthorised change is detected, and taking them; choosing which software beyond ferry's releases is monitored."},
		{id: "si-7.1", decide: decideSI71,
			organisation: "How often integrity checks run between installs (ferry check, or this report); ferry records installs but not scheduled checks."},
		{id: "si-7.6", decide: decideSI76,
			organisation: "None beyond SC-13's choice of cryptography."},
		{id: "si-7.15", decide: decideSI715,
			organisation: "Naming the software and firmware components that must be authenticated; ferry authenticates everything it installs."},
		{id: "sr-4.3", decide: decideSR43,
			organisation: "Validating components received by means other than ferry, and following up bundles that ferry refused."},
		{id: "sr-11", decide: decideSR11,
			organisation: "SR-11 a and b: the anti-counterfeit policy and procedures, and reporting counterfeit components to their source and the organisation's personnel, which ferry does not do."},
	}
}
