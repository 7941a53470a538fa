package compliance

import (
	"fmt"
	"strings"
)

// The decisions below read only the Evidence. Each says what it rests on
// with f.examine (a record ferry kept) or f.test (re-checked when the
// report was made), and why it fails with f.fail.

// auditedEvents are the event types this ferry writes to the audit log
// on every appliance.
func auditedEvents() []string {
	return []string{
		"state.create", "trust.add", "trust.remove", "trust.rotate", "trust.threshold", "txn.begin", "txn.finish", "release.current",
		"release.delete", "release.removed", "install.committed", "install.noop", "install.refused",
		"install.failed", "install.recovered", "rollback", "rollback.failed", "rollback.recovered", "gc",
		"license.installed", "license.checked", "license.grace", "license.refused", "clock.behind", "clock.mark-invalid",
		"clock.reset", "clock.reset-refused", "clock.acknowledged", eventAcknowledged,
		"service.user.created", "hostkey.created", "config.applied", "config.failed", "config.recovered",
		"chart.applied", "chart.failed", "chart.restored", "chart.rollback",
	}
}

// servedEvents are the event types `ferry serve` writes to the audit log
// while it runs the services: one per rollout decision, the operators'
// rollout commands, rollouts resumed after a restart, the release
// rollbacks of aborted rollouts, the services' processes, and routing
// across sites: its set-up and every failover and failback.
func servedEvents() []string {
	return append(decisionEvents(),
		eventRolloutCommand, eventRolloutResumed, eventReleaseRolledBack, eventRollbackFailed,
		"serve.release", "service.started", "service.stopped", "service.unhealthy",
		eventSitesConfigured, eventSitesFailover, eventSitesFailback)
}

func decideAU2(ev *Evidence, f *finder) {
	a := ev.Audit
	if a.Entries == 0 {
		f.fail("the audit log is empty")
		return
	}
	f.examine(ev.Collected, "ferry logs these event types on every appliance (and the same for updates and rollbacks): %s", strings.Join(auditedEvents(), ", "))
	f.examine(ev.Collected, "ferry serve, while it runs the services, also logs each rollout decision, the operators' rollout commands, rollouts resumed after a restart, the release rollbacks of aborted rollouts and their failures, the current release it follows, and service processes started, stopped or found unhealthy: %s", strings.Join(servedEvents(), ", "))
	f.examine(a.Last, "the audit log holds %d entries from %s to %s: %s", a.Entries, stamp(a.First), stamp(a.Last), eventCounts(a))
	auditMustVerify(ev, f)
	f.ok = "ferry logs trust changes, transactions, installs, refusals, failures, release changes, licence decisions, a clock found set back, and rollout decisions and commands in an append-only, hash-chained log that verifies"
}

func decideAU3(ev *Evidence, f *finder) {
	a := ev.Audit
	if a.Entries == 0 {
		f.fail("the audit log is empty")
		return
	}
	f.examine(a.Last, "each of the %d audit records carries its sequence number, the time, the event type and fields naming what it concerns and its outcome: release version, bundle manifest digest, trusted key id and SHA-256, transaction id and state, and the error of a refusal or failure", a.Entries)
	decisions, commands := rolloutRecords(ev.Rollouts)
	if decisions > 0 {
		f.examine(a.Last, "the %d rollout decision records also name the service, the strategy, the stable and the new version, the phase, the new version's share of traffic, the action and its reason, and the metrics an analysis judged", decisions)
	}
	if commands > 0 {
		f.examine(a.Last, "the %d rollout command records name the service, the operator's command, and whether the rollout accepted or refused it and why", commands)
	}
	operatorCommands(ev.Rollouts, f)
	f.examine(ev.Collected, "the records belong to the appliance at %s (where the events took place)", ev.Root)
	auditMustVerify(ev, f)
	f.ok = "audit records say what happened, when, where, to what, and with what outcome"
}

func decideAU8(ev *Evidence, f *finder) {
	a := ev.Audit
	if a.Entries == 0 {
		f.fail("the audit log is empty")
		return
	}
	f.examine(a.Last, "%d audit records are time-stamped by the host clock, %d of them in UTC, as RFC 3339 with nanoseconds; first %s, last %s", a.Entries, a.Entries-a.NotUTC, stamp(a.First), stamp(a.Last))
	if a.NotUTC > 0 {
		f.fail("%d audit records are not time-stamped in UTC", a.NotUTC)
	}
	if a.OutOfOrder > 0 {
		f.fail("%d audit records are earlier than the record before them: the host clock was set back", a.OutOfOrder)
	}
	if a.OutOfOrderAcknowledged > 0 {
		f.examine(a.Last, "%d audit records earlier than the record before them (the host clock set back, or the latest time it had seen reset) come before the organisation's last acknowledgement of the clock", a.OutOfOrderAcknowledged)
	}
	clockEvidence(ev, f)
	auditMustVerify(ev, f)
	f.ok = "audit records are time-stamped in UTC and in order, and the host clock is not behind the latest time the host has seen, nor was it found so, nor that time reset, since the organisation last acknowledged the clock"
}

func decideAU9(ev *Evidence, f *finder) {
	a := ev.Audit
	if a.Verified {
		f.test(ev.Collected, "the audit log's hash chain (SHA-256, each entry over the one before) was re-verified when this report was made: %d entries, head entry %d with hash %s", a.Entries, a.HeadSeq, a.Head)
	} else {
		f.fail("%s", auditProblem(a))
	}
	db, ok := file(ev, "state.db")
	switch {
	case !ok:
		f.fail("state.db, which holds the audit log, is missing")
	case db.Mode.Perm()&0o077 != 0:
		f.fail("state.db, which holds the audit log, has mode %s: others than its owner can read or change it", db.Mode.Perm())
	default:
		f.test(ev.Collected, "state.db, which holds the audit log, has mode %s and is owned by uid %d, gid %d", db.Mode.Perm(), db.UID, db.GID)
	}
	if root, ok := file(ev, "."); ok {
		if root.Mode.Perm()&0o022 != 0 {
			f.fail("the root has mode %s: others than its owner can replace state.db", root.Mode.Perm())
		} else {
			f.test(ev.Collected, "the root has mode %s and is owned by uid %d, gid %d", root.Mode.Perm(), root.UID, root.GID)
		}
	}
	f.ok = "the audit log is readable and writable by the root's owner only, append-only and hash-chained, and it verified when this report was made"
}

func decideCM75(ev *Evidence, f *finder) {
	trustEvidence(ev, f)
	releasesVerified(ev, f)
	refusals(ev, f, false)
	f.ok = "ferry denies every bundle by default and installs only those signed by the keys the operator trusted; every release kept was installed that way"
}

func decideCM8(ev *Evidence, f *finder) {
	if len(ev.Releases) == 0 {
		f.fail("no release is installed: there is no inventory")
		return
	}
	for _, r := range ev.Releases {
		if !r.DigestMatches {
			f.fail("release %s: %s", r.Version, strings.Join(r.Problems, "; "))
			continue
		}
		role := "kept"
		if r.Current {
			role = "current"
		}
		f.examine(r.Installed, "%s release %s %s (vendor %q, bundle %s, status %s): components %s; %d bundle entries, %d files, images %s",
			role, r.Name, r.Version, r.Vendor, r.ManifestDigest, r.Status, list(r.Components), r.Entries, r.Files, list(r.Images))
	}
	for _, m := range ev.Migrations {
		f.examine(m.Applied, "release %s applied migration %d (%s) to database %s", m.Release, m.Version, m.Name, m.Database)
	}
	if ev.Current == "" {
		f.fail("no release is current")
	}
	f.ok = "every release on the appliance is inventoried from its signed manifest: components, images by digest, files and migrations"
}

func decideCM14(ev *Evidence, f *finder) {
	trustEvidence(ev, f)
	releasesVerified(ev, f)
	refusals(ev, f, false)
	f.ok = "no release was installed without verifying that its manifest was signed by a key the operator trusted"
}

func decideSA101(ev *Evidence, f *finder) {
	if len(ev.Releases) == 0 {
		f.fail("no release is installed")
		return
	}
	for _, r := range ev.Releases {
		if !r.Verified() {
			f.fail("release %s: %s", r.Version, strings.Join(r.Problems, "; "))
			continue
		}
		f.examine(r.Created, "the vendor %q built %s %s with a signed manifest that gives the SHA-256 and size of each of its %d entries (manifest digest %s)", r.Vendor, r.Name, r.Version, r.Entries, r.ManifestDigest)
	}
	f.ok = "the vendor's bundles carry signed manifests with a SHA-256 digest for every component, which ferry verified"
}

func decideSC13(ev *Evidence, f *finder) {
	for _, a := range ev.Algorithms {
		where := "inside the Go Cryptographic Module"
		if !a.FIPSModule {
			where = "outside the Go Cryptographic Module"
			if ev.Tool.FIPS140 {
				f.fail("%s is used (%s) but is outside the FIPS 140-3 module boundary", a.Name, a.Use)
			}
		}
		f.examine(ev.Collected, "%s, %s: %s", a.Name, where, a.Use)
	}
	if ev.Tool.FIPS140 {
		f.test(ev.Collected, "ferry (%s, %s) runs the Go Cryptographic Module %s in FIPS 140-3 mode (crypto/fips140.Enabled)", ev.Tool.Version, ev.Tool.GoVersion, ev.Tool.FIPS140Module)
	} else {
		f.fail("ferry (%s, %s) does not run in FIPS 140-3 mode (crypto/fips140.Enabled is false), so no FIPS-validated cryptography is claimed; where the organisation requires it, run ferry with GODEBUG=fips140=on", ev.Tool.Version, ev.Tool.GoVersion)
	}
	f.ok = "the cryptography ferry relies on runs in the Go Cryptographic Module in FIPS 140-3 mode"
}

func decideSI7(ev *Evidence, f *finder) {
	integrity(ev, f)
	releasesVerified(ev, f)
	f.ok = "installed content was verified against signed manifests when installed and again when this report was made, and nothing differs"
}

func decideSI71(ev *Evidence, f *finder) {
	for _, t := range ev.Txns {
		if t.Kind != "install" && t.Kind != "update" {
			continue
		}
		f.examine(t.Started, "transaction %d (%s %s, bundle %s) began only after the whole bundle's signatures and entries verified; it was %s", t.ID, t.Kind, t.Version, t.BundleDigest, t.State)
	}
	refusals(ev, f, false)
	integrity(ev, f)
	auditMustVerify(ev, f)
	f.ok = "ferry checks every bundle's integrity before an install and re-checked installed content when this report was made"
}

func decideSI76(ev *Evidence, f *finder) {
	if len(ev.Releases) == 0 {
		f.fail("no release is installed")
		return
	}
	for _, r := range ev.Releases {
		if r.DigestMatches {
			f.test(ev.Collected, "the SHA-256 of release %s's signed manifest was recomputed: it is %s, as recorded", r.Version, r.ManifestDigest)
		} else {
			f.fail("release %s: %s", r.Version, strings.Join(r.Problems, "; "))
		}
	}
	for _, a := range ev.Algorithms {
		f.examine(ev.Collected, "%s: %s", a.Name, a.Use)
	}
	integrity(ev, f)
	f.ok = "signatures over SHA-256 manifests and SHA-256 digests of every entry detect any change to installed software"
}

func decideSI715(ev *Evidence, f *finder) {
	trustEvidence(ev, f)
	releasesVerified(ev, f)
	refusals(ev, f, false)
	f.ok = "every release was authenticated by signatures of trusted keys before it was installed"
}

func decideSR43(ev *Evidence, f *finder) {
	releasesVerified(ev, f)
	refusals(ev, f, true)
	integrity(ev, f)
	auditMustVerify(ev, f)
	f.ok = "every bundle received was validated as genuine (signed by trusted keys) and unaltered (every entry matched its signed digest), and every refusal of a bundle that may not be genuine was followed up"
}

func decideSR11(ev *Evidence, f *finder) {
	trustEvidence(ev, f)
	releasesVerified(ev, f)
	refusals(ev, f, true)
	auditMustVerify(ev, f)
	f.ok = "ferry detects and keeps out components that are not signed by trusted keys or were altered, and every one it detected was followed up"
}

// trustEvidence lists the trust store; it fails when it is empty or a key
// cannot be used.
func trustEvidence(ev *Evidence, f *finder) {
	if len(ev.Trust) == 0 {
		f.fail("no release key is trusted")
	}
	for _, k := range ev.Trust {
		if k.Problem != "" {
			f.fail("trusted key %s: %s", k.ID, k.Problem)
			continue
		}
		if k.Rotation > 0 {
			f.examine(k.Added, "trusted %s key %s (key file SHA-256 %s), handed trust by key rotation statement %d", k.Type, k.ID, k.SHA256, k.Rotation)
			continue
		}
		f.examine(k.Added, "trusted %s key %s (key file SHA-256 %s)", k.Type, k.ID, k.SHA256)
	}
	if len(ev.Trust) > 0 {
		f.examine(ev.Collected, "every install and update needs valid signatures by %d distinct trusted keys (two encodings of one key count once), a threshold kept by the appliance and changed only by `ferry trust threshold` or a rotation statement, both audited", max(1, ev.TrustThreshold))
	}
	for _, r := range ev.Retired {
		f.examine(ev.Collected, "key %s (material %s) was retired by key rotation statement %d and is not trusted again by --key, an installer's keys or `ferry trust add`", r.ID, r.Material, r.Rotation)
	}
}

// releasesVerified fails for any release not installed from a verified
// bundle, and when there is none.
func releasesVerified(ev *Evidence, f *finder) {
	if len(ev.Releases) == 0 {
		f.fail("no release is installed")
	}
	for _, r := range ev.Releases {
		if !r.Verified() {
			f.fail("release %s (bundle %s) does not count as verified: %s", r.Version, r.ManifestDigest, strings.Join(r.Problems, "; "))
			continue
		}
		f.examine(r.VerifiedBy.Finished, "release %s (bundle %s) was installed by transaction %d, begun after its signatures and every entry verified and committed at %s", r.Version, r.ManifestDigest, r.VerifiedBy.ID, stamp(r.VerifiedBy.Finished))
	}
}

// refusals lists the bundles ferry refused. A refusal is evidence that
// verification works. For the supply-chain controls (open is true) a
// refusal that may be a bundle that was not genuine or was altered is also
// an open finding until the organisation acknowledges its follow-up
// (`ferry compliance ack`); a bundle that did not fit the host (another
// base, not newer, already applied, another platform) was an operator's
// mistake, and no finding.
func refusals(ev *Evidence, f *finder, open bool) {
	for _, b := range ev.Bundles {
		if !b.Refused() {
			continue
		}
		if !b.Finding() {
			f.examine(b.Time, "bundle %s was refused because it does not fit this host, an operator's mistake and not a sign of a bundle that is not genuine; nothing of it was installed (audit entry %d): %s", b.Bundle, b.Seq, b.Detail)
			continue
		}
		f.examine(b.Time, "bundle %s was refused and nothing of it installed (audit entry %d): %s", b.Bundle, b.Seq, b.Detail)
		if !open {
			continue
		}
		if a := b.Acknowledged; a != nil {
			f.examine(a.Time, "the organisation acknowledged its follow-up of the refusal at audit entry %d (audit entry %d): %s", b.Seq, a.Seq, a.Reason)
			continue
		}
		f.fail("bundle %s, received and refused at %s, was not genuine or was altered (%s); it stays open until the organisation has followed it up and recorded it with `ferry compliance ack %d --reason TEXT`", b.Bundle, stamp(b.Time), b.Detail, b.Seq)
	}
}

// integrity reports the re-hash done when the evidence was collected.
func integrity(ev *Evidence, f *finder) {
	in := ev.Integrity
	switch {
	case !in.Checked:
		f.fail("%s", in.Problem)
	case len(in.Differences) > 0:
		shown := in.Differences
		if len(shown) > 10 {
			shown = shown[:10]
		}
		f.fail("installed content differs from the signed manifests in %d places: %s", len(in.Differences), strings.Join(shown, "; "))
	default:
		f.test(ev.Collected, "every installed file and store blob of the %d kept release(s) was re-hashed against the signed manifests when this report was made: nothing differs", in.Releases)
	}
}

// auditMustVerify fails findings whose records come from the audit log
// when its chain does not verify: those records cannot be relied on.
func auditMustVerify(ev *Evidence, f *finder) {
	if !ev.Audit.Verified {
		f.fail("%s, so its records cannot be relied on", auditProblem(ev.Audit))
	}
}

func auditProblem(a Audit) string {
	if a.Problem != "" {
		return "the audit log does not verify: " + a.Problem
	}
	return "the audit log does not verify"
}

// operatorCommands lists the operators' rollout commands, the accepted
// ones apart from the refused ones, which changed nothing.
func operatorCommands(r Rollouts, f *finder) {
	for _, refused := range []bool{false, true} {
		for _, s := range r.Services {
			for _, c := range s.Commands {
				switch {
				case c.Refused() != refused:
				case refused:
					f.examine(c.Time, "audit entry %d: operator command %s of service %s was refused and changed nothing: %s", c.Seq, c.Command, s.Service, c.Reason)
				case c.Outcome == "":
					f.examine(c.Time, "audit entry %d: operator command %s of service %s (its outcome was not recorded)", c.Seq, c.Command, s.Service)
				default:
					f.examine(c.Time, "audit entry %d: operator command %s of service %s was accepted", c.Seq, c.Command, s.Service)
				}
			}
		}
	}
}

// rolloutRecords counts the audit entries of rollout decisions and of
// operators' rollout commands.
func rolloutRecords(r Rollouts) (decisions, commands int) {
	for _, s := range r.Services {
		decisions += len(s.Decisions)
		commands += len(s.Commands)
	}
	return decisions, commands
}

func eventCounts(a Audit) string {
	parts := make([]string, len(a.Events))
	for i, e := range a.Events {
		parts[i] = fmt.Sprintf("%s ×%d", e.Event, e.Count)
	}
	return strings.Join(parts, ", ")
}

func file(ev *Evidence, path string) (FileInfo, bool) {
	for _, fi := range ev.Files {
		if fi.Path == path {
			return fi, fi.Exists
		}
	}
	return FileInfo{}, false
}

func list(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}
