package compliance

import (
	"fmt"
	"strings"
	"time"
)

// The checklist ferry writes is its own: a STIG-style benchmark of the
// application checks ferry can decide from its records, not a DISA STIG.
// Its rules cite the NIST SP 800-53 controls they support; CCIs are not
// given, as DISA's CCI list is not part of what ferry carries.
const (
	stigID      = "ferry_Appliance_Checks"
	stigTitle   = "ferry Appliance Application Checks"
	stigVersion = "1"
	stigRelease = "Release: 1 Benchmark Date: 01 Jan 2026"
)

// rule is one check of the checklist and how ferry decides it.
type rule struct {
	num        int // V-FERRY-NNNNNN and its rule ids derive from it
	severity   string
	title      string
	discussion string
	check      string // how the rule is decided, in checklist words
	fix        string
	nist       []string
	decide     func(ev *Evidence, f *finder)
}

func (r rule) groupID() string  { return fmt.Sprintf("V-FERRY-%06d", r.num) }
func (r rule) ruleID() string   { return fmt.Sprintf("SV-FERRY-%06dr1", r.num) }
func (r rule) version() string  { return fmt.Sprintf("FERRY-00-%06d", r.num) }
func (r rule) weight() string   { return "10.0" }
func (r rule) stigRef() string  { return stigTitle + " :: Version " + stigVersion + ", " + stigRelease }
func (r rule) nistRefs() string { return strings.Join(r.nist, ", ") }

// ruleResult is a rule decided for one appliance.
type ruleResult struct {
	rule
	status  Status
	details string
}

// checkRules decides every rule of the checklist from the evidence.
func checkRules(ev *Evidence) []ruleResult {
	var out []ruleResult
	for _, r := range rules() {
		f := &finder{}
		r.decide(ev, f)
		res := ruleResult{rule: r}
		switch {
		case f.na != "":
			res.status = NotApplicable
			res.details = f.na
		case len(f.failures) > 0:
			res.status = NotSatisfied
			res.details = "Open: " + strings.Join(f.failures, "; ")
		case len(f.items) == 0:
			res.status = NotSatisfied
			res.details = "Open: no evidence was found"
		default:
			res.status = Satisfied
			res.details = "Not a finding: " + f.ok
		}
		var b strings.Builder
		b.WriteString(res.details)
		for _, it := range f.items {
			fmt.Fprintf(&b, "\n- %s (%s, %s)", it.Description, strings.ToLower(it.Method), stampOr(it.Time, ev.Collected))
		}
		res.details = b.String()
		out = append(out, res)
	}
	return out
}

func stampOr(t, fallback time.Time) string {
	if t.IsZero() {
		t = fallback
	}
	return stamp(t)
}

// rules is the checklist, in order.
func rules() []rule {
	return []rule{
		{num: 10, severity: "high", nist: []string{"CM-14", "SI-7(15)", "CM-7(5)"},
			title:      "ferry must install only bundles signed by keys the operator trusted.",
			discussion: "A bundle carried across the air gap may have been replaced or altered on the way. Installing only bundles whose manifest is signed by enough trusted keys keeps software the organisation did not approve off the appliance.",
			check:      "ferry reads the trust store and every kept release from state.db. It is a finding if no key is trusted, a trusted key cannot be read, or any release lacks its signed manifest, no longer hashes to its recorded digest, or was not installed by a committed install transaction (which ferry begins only after the whole bundle verified).",
			fix:        "Trust the vendor's release keys with `ferry trust add`, and install releases only with `ferry install`. Remove releases that were placed by other means.",
			decide: func(ev *Evidence, f *finder) {
				trustEvidence(ev, f)
				releasesVerified(ev, f)
				f.ok = "every kept release was installed from a bundle signed by trusted keys"
			}},
		{num: 20, severity: "high", nist: []string{"SI-7", "SI-7(6)"},
			title:      "Installed content must match the signed manifests.",
			discussion: "A file or image blob changed after installation runs software nobody signed. ferry keeps each release's signed manifest and can re-hash what is installed against it.",
			check:      "When the checklist is made, ferry re-hashes every installed file and store blob of the kept releases against their signed manifests (as `ferry check` does). It is a finding if anything is missing, changed, has another mode, or the check cannot run.",
			fix:        "Find out who changed the content and why, then reinstall the release from its bundle (or roll back to a kept release).",
			decide: func(ev *Evidence, f *finder) {
				integrity(ev, f)
				f.ok = "installed content matches the signed manifests"
			}},
		{num: 30, severity: "medium", nist: []string{"SR-4(3)", "SR-11"},
			title:      "Bundles that ferry refused must be followed up.",
			discussion: "A bundle refused for its signatures or content was not genuine or had been altered: a sign of a supply-chain problem that the organisation needs to investigate and report. A bundle refused because it does not fit the host (another base, not newer, already applied, another platform) was an operator's mistake and is no finding.",
			check:      "ferry lists the install.refused entries of the audit log. It is a finding if one that does not fit the host for another reason has no acknowledgement recorded by `ferry compliance ack`, or if the audit log does not verify (refusals could have been hidden).",
			fix:        "Investigate each refused bundle with its source, report counterfeit or altered components as the organisation's procedures require, and record the follow-up with `ferry compliance ack ENTRY --reason TEXT`.",
			decide: func(ev *Evidence, f *finder) {
				refusals(ev, f, true)
				auditMustVerify(ev, f)
				if ev.Audit.Verified && len(f.failures) == 0 {
					f.test(ev.Collected, "none of the %d entries of the verified audit log records a refused bundle that is not followed up", ev.Audit.Entries)
				}
				f.ok = "no bundle was refused as not genuine or altered, or each such refusal was followed up"
			}},
		{num: 40, severity: "high", nist: []string{"AU-9", "AU-2"},
			title:      "The audit log's hash chain must verify.",
			discussion: "The audit log is the record of what was installed, refused and rolled back. A broken chain means entries were edited, removed, reordered or added behind ferry's back.",
			check:      "When the checklist is made, ferry re-verifies the hash chain of the audit log and its recorded head (entry count and last hash). It is a finding if they do not verify.",
			fix:        "Keep the damaged state.db as evidence, investigate, and compare with the audit head kept elsewhere; restore state.db from a backup taken before the damage.",
			decide: func(ev *Evidence, f *finder) {
				if ev.Audit.Verified {
					f.test(ev.Collected, "the hash chain of %d entries verified; head entry %d, hash %s", ev.Audit.Entries, ev.Audit.HeadSeq, ev.Audit.Head)
				}
				auditMustVerify(ev, f)
				f.ok = "the audit log verifies"
			}},
		{num: 50, severity: "medium", nist: []string{"AU-9"},
			title:      "state.db must be readable and writable by its owner only.",
			discussion: "state.db holds the trust store, the releases and the audit log. Anyone else who can write it can trust a key of their own; anyone who can read it learns what is installed.",
			check:      "ferry reads the mode of state.db. It is a finding if group or others have any permission.",
			fix:        "chmod 0600 state.db (ferry also restores this mode whenever it opens the state for writing).",
			decide: func(ev *Evidence, f *finder) {
				db, ok := file(ev, "state.db")
				switch {
				case !ok:
					f.fail("state.db is missing")
				case db.Mode.Perm()&0o077 != 0:
					f.fail("state.db has mode %s", db.Mode.Perm())
				default:
					f.test(ev.Collected, "state.db has mode %s, uid %d, gid %d", db.Mode.Perm(), db.UID, db.GID)
				}
				f.ok = "state.db is its owner's only"
			}},
		{num: 60, severity: "medium", nist: []string{"AU-9", "CM-14"},
			title:      "The appliance root must not be writable by group or others.",
			discussion: "Whoever can write the root can replace state.db, the releases or the current link.",
			check:      "ferry reads the mode of the root directory. It is a finding if group or others may write it.",
			fix:        "chmod go-w on the root directory.",
			decide: func(ev *Evidence, f *finder) {
				root, ok := file(ev, ".")
				switch {
				case !ok:
					f.fail("the root is missing")
				case root.Mode.Perm()&0o022 != 0:
					f.fail("the root has mode %s", root.Mode.Perm())
				default:
					f.test(ev.Collected, "the root has mode %s, uid %d, gid %d", root.Mode.Perm(), root.UID, root.GID)
				}
				f.ok = "only the root's owner can write it"
			}},
		{num: 70, severity: "low", nist: []string{"AU-8", "AU-3"},
			title:      "Audit records must be time-stamped in UTC and in order, by a clock that was never set back.",
			discussion: "A clock set back stamps records too early and would revive expired licences and bundles; ferry therefore judges expiry at the later of the system clock and the latest time the host has seen (its clock high-water mark), and records each time it finds the clock behind. Records without UTC cannot be compared across hosts.",
			check:      "ferry reads every audit record's time, the system clock and the clock high-water mark (the later of the stored mark and the newest audit record). It is a finding if any record is not in UTC or is earlier than the record before it, if the system clock is more than five minutes behind the high-water mark when the checklist is made, if the audit log holds a clock.behind record (ferry found the clock set back during an install or licence check), if the log is empty, or if it does not verify.",
			fix:        "Synchronise the host clock with an authoritative source, and find out why it went back; record the follow-up of each clock.behind record.",
			decide:     decideAU8},
		{num: 80, severity: "medium", nist: []string{"SI-7(1)"},
			title:      "No install, update or rollback may be left unfinished.",
			discussion: "An interrupted transaction leaves the appliance between two releases until the next ferry command finishes it or rolls it back.",
			check:      "ferry reads the journal. It is a finding if a transaction is open.",
			fix:        "Run any ferry command that writes (for example `ferry install` of the same bundle): it commits or rolls back the interrupted transaction first.",
			decide: func(ev *Evidence, f *finder) {
				if t := ev.OpenTxn; t != nil {
					f.fail("transaction %d (%s %s) begun at %s is unfinished", t.ID, t.Kind, t.Version, stamp(t.Started))
					return
				}
				f.examine(ev.Collected, "no transaction is open; %d are journalled", len(ev.Txns))
				f.ok = "every transaction finished"
			}},
		{num: 90, severity: "medium", nist: []string{"SC-13"},
			title:      "ferry must run in FIPS 140-3 mode where FIPS-validated cryptography is required.",
			discussion: "ferry's signature and digest checks use the Go Cryptographic Module; only in FIPS 140-3 mode is it operated as validated. OpenPGP signatures are outside that module.",
			check:      "ferry reports crypto/fips140.Enabled() of the binary that makes the checklist and the signature schemes of the trusted keys. It is a finding if FIPS mode is off, or on while a trusted key uses a scheme outside the module.",
			fix:        "Run ferry with GODEBUG=fips140=on (or build it with GOFIPS140), and trust ECDSA P-256 or Ed25519 release keys rather than OpenPGP keys.",
			decide:     decideSC13},
		{num: 100, severity: "low", nist: []string{"SI-7(1)"},
			title:      "The post-install checks of the current release must pass.",
			discussion: "The vendor's checks show that the release works as installed; a failed check means the appliance may not do what it should.",
			check:      "ferry reads the check results recorded for the current release. It is a finding if there is no current release or a check failed; not applicable if the release declares no checks.",
			fix:        "Fix the cause of the failed check and install or roll back a release whose checks pass.",
			decide: func(ev *Evidence, f *finder) {
				var cur *Release
				for i := range ev.Releases {
					if ev.Releases[i].Current {
						cur = &ev.Releases[i]
					}
				}
				if cur == nil {
					f.fail("no release is current")
					return
				}
				if len(cur.Checks) == 0 {
					f.na = "release " + cur.Version + " declares no post-install checks"
					return
				}
				for _, c := range cur.Checks {
					if !c.OK {
						f.fail("check %s of release %s failed: %s", c.Name, cur.Version, c.Detail)
						continue
					}
					f.examine(c.At, "check %s of release %s passed", c.Name, cur.Version)
				}
				f.ok = "the current release's checks passed"
			}},
		{num: 110, severity: "medium", nist: []string{"CM-10"},
			title:      "The appliance must hold a valid licence, and ferry must enforce it.",
			discussion: "A licence limits use to what the vendor and the customer agreed: products, versions, components, hosts and dates. ferry verifies it offline against the licence keys carried in the release's signed manifest and refuses installs and updates it does not allow; its enforcement events in the audit log show it is applied.",
			check:      "ferry reads the current release's licence policy from its signed manifest, the installed licence file and its history from state.db, verifies the file against the release's licence keys and judges it at the later of the system clock and the clock high-water mark, for the release's product and version and this host's fingerprints. Not applicable if the release names no licence keys, or accepts a licence without requiring one and none is installed. It is a finding if a required licence is missing; if the installed licence does not verify (untrusted or tampered with), is not the file ferry last installed, is for another product, host or version range, is not yet valid or has expired beyond its grace period; if the audit log records no license.checked entry for it; or if the log does not verify. A licence in its grace period is not a finding, and the details say so.",
			fix:        "Obtain a licence for this host and release from the vendor and install it with `ferry license install FILE` (or `ferry install --license FILE`); renew a licence in its grace period before the grace ends. If the stored licence was changed behind ferry's back, investigate and reinstall the vendor's file.",
			decide:     decideCM10},
	}
}
