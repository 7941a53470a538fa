package compliance

import (
	"cmp"
	"context"
	"crypto/fips140"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ferry/bundle"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/internal/buildinfo"
	"ferry/license"
	"ferry/verify"
)

// highestMark is the installer's anti-rollback mark: the highest version
// ever installed.
const highestMark = "highest-version"

// rolloutRollbackKind is the kind of a rollback that ferry serve made
// because a rollout was aborted.
const rolloutRollbackKind = "aborted rollout rolled back"

// rootPaths are the parts of an appliance root whose mode and owner the
// evidence records.
func rootPaths() []string {
	return []string{".", "state.db", "ferry.lock", "store", "releases", "current", "data", "logs"}
}

// Collect gathers evidence from the appliance at root at time now, the
// system clock's reading. It only reads: the state is opened with
// state.OpenReadOnly, the audit chain is re-verified, installed content is
// re-hashed against the signed manifests (as `ferry check` does) and the
// installed licence is verified and judged at the later of now and the
// host's clock high-water mark, so the report shows what holds now, not
// only what was once recorded. The rollouts are what ferry serve saved
// and audited, as it recorded them.
func Collect(ctx context.Context, root string, now time.Time) (*Evidence, error) {
	ev := &Evidence{
		Collected: now.UTC(),
		Root:      root,
		Tool:      currentTool(),
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return nil, err
	}
	err = collectState(db, ev, license.ReadHost(os.DirFS("/")).Fingerprints())
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	ev.Host, _ = os.Hostname()
	ev.Files = collectFiles(root)
	ev.Integrity = collectIntegrity(ctx, root, len(ev.Releases))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ev.Algorithms = algorithms(ev.Trust)
	return ev, nil
}

func currentTool() Tool {
	// The version is the one `ferry version` prints, commit included for a
	// build without a release version, so that an assessor can name the
	// exact build that decided the findings.
	bi := buildinfo.Read()
	t := Tool{Name: "ferry", Version: bi.String(), GoVersion: bi.GoVersion, FIPS140: fips140.Enabled()}
	if t.FIPS140 {
		t.FIPS140Module = fips140.Version()
	}
	return t
}

// collectState reads the state database; fps are the host's fingerprints,
// for a licence bound to a host.
func collectState(db *state.DB, ev *Evidence, fps []string) error {
	log, err := db.AuditLog()
	if err != nil {
		return err
	}
	ev.Audit = collectAudit(db, log)

	trust, err := db.Trust()
	if err != nil {
		return err
	}
	rot, err := db.TrustRotation()
	if err != nil {
		return err
	}
	ev.TrustThreshold = max(1, rot.Threshold)
	retired, err := db.RetiredKeys()
	if err != nil {
		return err
	}
	for _, m := range slices.Sorted(maps.Keys(retired)) {
		ev.Retired = append(ev.Retired, RetiredKey{Material: m, ID: retired[m].ID, Rotation: retired[m].Sequence})
	}
	added := map[string]time.Time{}
	rotated := map[string]TrustKey{} // keys a rotation statement brought in, by id
	for _, e := range log {
		switch e.Event {
		case "trust.add":
			added[e.Fields["id"]+"\x00"+e.Fields["sha256"]] = e.Time.UTC()
		case "trust.rotate":
			seq, _ := strconv.Atoi(e.Fields["to"])
			for _, id := range strings.Split(e.Fields["added"], ",") {
				if id != "" {
					rotated[id] = TrustKey{Added: e.Time.UTC(), Rotation: seq}
				}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(trust)) {
		pub := trust[id]
		sum := sha256.Sum256(pub)
		k := TrustKey{ID: id, SHA256: hex.EncodeToString(sum[:])}
		k.Added = added[id+"\x00"+k.SHA256]
		if r, ok := rotated[id]; ok && k.Added.IsZero() {
			k.Added, k.Rotation = r.Added, r.Rotation
		}
		if pk, err := verify.ParsePublicKey(pub); err != nil {
			k.Problem = "the stored key cannot be read: " + err.Error()
		} else {
			k.Type = string(pk.Type())
			if pk.ID() != id {
				k.Problem = fmt.Sprintf("the key is stored under id %s but its own id is %s", id, pk.ID())
			}
		}
		ev.Trust = append(ev.Trust, k)
	}

	if ev.Current, err = db.Current(); err != nil {
		return err
	}
	txns, err := db.Txns()
	if err != nil {
		return err
	}
	steps := map[uint64][]state.Step{}
	for _, t := range txns {
		s, err := db.Steps(t.ID)
		if err != nil {
			return err
		}
		steps[t.ID] = s
		ev.Txns = append(ev.Txns, txnOf(t, s))
	}
	slices.SortFunc(ev.Txns, func(a, b Txn) int { return cmp.Compare(a.ID, b.ID) })
	if t, open, err := db.OpenTxn(); err != nil {
		return err
	} else if open {
		x := txnOf(t, steps[t.ID])
		ev.OpenTxn = &x
	}

	rels, err := db.Releases()
	if err != nil {
		return err
	}
	manifests := map[string]*bundle.Manifest{}
	for _, r := range rels {
		rel, m := releaseOf(r, ev.Current, ev.Txns)
		ev.Releases = append(ev.Releases, rel)
		if m != nil {
			manifests[r.Version] = m
		}
	}
	ev.Migrations = migrations(ev.Txns, steps, manifests)
	ev.Bundles, ev.Rollbacks = auditHistory(log)

	for _, name := range []string{highestMark, clockMark} {
		if v, err := db.Mark(name); err != nil {
			return err
		} else if v != nil {
			ev.Marks = append(ev.Marks, Mark{Name: name, Value: string(v)})
		}
	}
	ev.Clock = collectClock(db, log, ev.Collected)
	ev.License = collectLicense(db, log, ev.Clock, ev.Current, manifests[ev.Current], fps)
	ev.Rollouts = collectRollouts(db, log)
	ev.Sites = collectSites(log)
	if ev.Configurations, err = installer.ConfigHistory(db); err != nil {
		return err
	}
	for _, e := range log {
		if e.Event == "config.applied" {
			f := e.Fields
			ev.ConfigChanges = append(ev.ConfigChanges, ConfigChange{Seq: e.Seq, Time: e.Time.UTC(), Release: f["version"], Revision: f["revision"],
				Given: f["given"], Changed: f["changed"], From: f["from"], Reason: f["reason"]})
		}
	}
	return nil
}

func collectAudit(db *state.DB, log []state.AuditEntry) Audit {
	a := Audit{Entries: len(log)}
	count, head, err := db.AuditHead()
	if err != nil {
		a.Problem = err.Error()
		return a
	}
	a.HeadSeq, a.Head = count, head
	err = db.VerifyAudit()
	var ae *state.AuditError
	switch {
	case err == nil:
		a.Verified = true
	case errors.As(err, &ae):
		a.BrokenAt = ae.Seq
		a.Problem = fmt.Sprintf("the hash chain is broken at entry %d: %s", ae.Seq, ae.Reason)
	default:
		a.Problem = "the hash chain could not be verified: " + err.Error()
	}
	acked := lastClockAcknowledgement(log)
	counts := map[string]*EventCount{}
	for i, e := range log {
		if i == 0 {
			a.First = e.Time.UTC()
		}
		a.Last = e.Time.UTC()
		if e.Time.Location() != time.UTC {
			a.NotUTC++
		}
		if i > 0 && e.Time.Before(log[i-1].Time) {
			if e.Seq <= acked {
				a.OutOfOrderAcknowledged++
			} else {
				a.OutOfOrder++
			}
		}
		c := counts[e.Event]
		if c == nil {
			c = &EventCount{Event: e.Event}
			counts[e.Event] = c
		}
		c.Count++
		c.Last = e.Time.UTC()
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		a.Events = append(a.Events, *counts[name])
	}
	return a
}

func txnOf(t state.Txn, steps []state.Step) Txn {
	x := Txn{
		ID: t.ID, Kind: t.Kind, Version: t.Version, BundleDigest: t.BundleDigest,
		Started: t.Started.UTC(), Finished: t.Finished.UTC(), State: t.State, Reason: t.Reason,
	}
	if t.Finished.IsZero() {
		x.Finished = time.Time{}
	}
	names := map[string]bool{}
	for _, s := range steps {
		names[s.Name] = true
		if s.Phase == state.PhaseFailed {
			x.FailedSteps++
		}
	}
	x.Steps = len(names)
	return x
}

// releaseOf describes a stored release and decides whether it counts as
// verified: its signed manifest is kept and still hashes to its digest,
// and a committed install of exactly that bundle is journalled (ferry
// begins an install only after the whole bundle verified).
func releaseOf(r state.Release, current string, txns []Txn) (Release, *bundle.Manifest) {
	rel := Release{
		Version: r.Version, ManifestDigest: r.ManifestDigest, Status: r.Status, Current: r.Version == current,
		Created: r.Created.UTC(), Installed: r.Installed.UTC(), Components: slices.Clone(r.Components),
	}
	if r.Installed.IsZero() {
		rel.Installed = time.Time{}
	}
	for _, c := range r.Checks {
		rel.Checks = append(rel.Checks, Check{Name: c.Name, OK: c.OK, Detail: c.Detail, At: c.At.UTC()})
	}
	var m *bundle.Manifest
	switch {
	case len(r.Manifest) == 0:
		rel.Problems = append(rel.Problems, "its signed manifest is not recorded")
	case bundle.ManifestDigest(r.Manifest) != r.ManifestDigest:
		rel.Problems = append(rel.Problems, fmt.Sprintf("its recorded manifest hashes to %s, not to the recorded digest %s", bundle.ManifestDigest(r.Manifest), r.ManifestDigest))
	default:
		rel.DigestMatches = true
		var err error
		if m, err = bundle.ParseManifest(r.Manifest); err != nil {
			rel.Problems = append(rel.Problems, "its recorded manifest cannot be read: "+err.Error())
			m = nil
		}
	}
	if m != nil {
		rel.Name, rel.Vendor, rel.Entries = m.Name, m.Vendor, len(m.Entries)
		if m.Expires != nil {
			rel.Expires = m.Expires.UTC()
		}
		if m.Base != nil {
			rel.Base = m.Base.Digest
		}
		chosen := map[string]bool{}
		for _, c := range r.Components {
			chosen[c] = true
		}
		for _, c := range m.Components {
			if !chosen[c.Name] {
				continue
			}
			for _, img := range c.Images {
				rel.Images = append(rel.Images, img.Name+"@"+img.Digest)
			}
			rel.Files += len(c.Files)
		}
		slices.Sort(rel.Images)
	}
	// A configuration revision (VERSION+config.N) holds the bundle its
	// release was installed from: that install verified it.
	for i := range txns {
		t := txns[i]
		if (t.Kind == "install" || t.Kind == "update") && t.State == state.TxnCommitted &&
			t.BundleDigest == r.ManifestDigest && (t.Version == r.Version || (m != nil && t.Version == m.Version)) {
			rel.VerifiedBy = &t
		}
	}
	if rel.VerifiedBy == nil {
		rel.Problems = append(rel.Problems, "no committed install of this bundle is journalled: it was not installed by a verifying ferry")
	}
	switch r.Status {
	case state.StatusActive, state.StatusInactive:
	default:
		rel.Problems = append(rel.Problems, "its status is "+r.Status)
	}
	return rel, m
}

// migrations lists the migrations that committed transactions journalled
// as applied, for the releases still kept (their manifests name them).
func migrations(txns []Txn, steps map[uint64][]state.Step, manifests map[string]*bundle.Manifest) []Migration {
	var out []Migration
	for _, t := range txns {
		m := manifests[t.Version]
		if t.State != state.TxnCommitted || m == nil {
			continue
		}
		for _, s := range steps[t.ID] {
			comp, db, ok := strings.Cut(s.Name, "/"+installer.StepMigrations+":")
			if !ok || s.Phase != state.PhaseDone {
				continue
			}
			for _, c := range m.Components {
				if c.Name != comp {
					continue
				}
				for _, set := range c.Migrations {
					if set.Database != db {
						continue
					}
					for _, mig := range set.Steps {
						out = append(out, Migration{Release: t.Version, Database: db, Version: mig.Version, Name: mig.Name, Applied: s.At.UTC()})
					}
				}
			}
		}
	}
	return out
}

// eventAcknowledged is the organisation's follow-up of a refused bundle,
// naming the refusal's audit entry.
const eventAcknowledged = "compliance.acknowledged"

// auditHistory picks from the audit log the bundles ferry was given and
// the transactions that went back. A release that ferry serve rolled back
// after an aborted rollout is the rollback transaction just before its
// entry, which then says so and why; without that transaction's entry it
// is listed on its own.
func auditHistory(log []state.AuditEntry) ([]BundleEvent, []Rollback) {
	var bundles []BundleEvent
	var rollbacks []Rollback
	acks := map[string]*Acknowledgement{}
	for _, e := range log {
		if e.Event == eventAcknowledged {
			acks[e.Fields["entry"]] = &Acknowledgement{Seq: e.Seq, Time: e.Time.UTC(), Reason: e.Fields["reason"]}
		}
	}
	for _, e := range log {
		f := e.Fields
		kind, outcome, _ := strings.Cut(e.Event, ".")
		if kind != "install" && kind != "update" && kind != "rollback" && kind != "config" {
			kind, outcome = "", ""
		}
		switch outcome {
		case "activated", "committed", "noop", "refused", "failed", "check-failed", "recovered":
			b := BundleEvent{Seq: e.Seq, Time: e.Time.UTC(), Event: e.Event, Version: f["version"], Bundle: f["bundle"]}
			switch outcome {
			case "refused", "failed":
				b.Detail = f["error"]
				b.Class = f["class"]
			case "check-failed":
				b.Detail = f["check"] + ": " + f["detail"]
			case "recovered":
				b.Detail = f["outcome"]
			}
			if b.Finding() {
				b.Acknowledged = acks[strconv.FormatUint(e.Seq, 10)]
			}
			if kind != "rollback" && kind != "config" {
				bundles = append(bundles, b)
			}
		}
		switch {
		case e.Event == "rollback":
			rollbacks = append(rollbacks, Rollback{Time: e.Time.UTC(), Kind: "rollback", From: f["from"], To: f["to"]})
		case outcome == "failed":
			rollbacks = append(rollbacks, Rollback{Time: e.Time.UTC(), Kind: "failed " + kind + " rolled back", From: f["version"], Reason: f["error"]})
		case outcome == "recovered" && f["outcome"] == "rolled back":
			rollbacks = append(rollbacks, Rollback{Time: e.Time.UTC(), Kind: "interrupted " + kind + " rolled back", From: f["version"]})
		case e.Event == eventReleaseRolledBack:
			r := Rollback{Time: e.Time.UTC(), Kind: rolloutRollbackKind, From: f["from"], To: f["to"], Reason: f["reason"]}
			if n := len(rollbacks); n > 0 && rollbacks[n-1].Kind == "rollback" && rollbacks[n-1].From == r.From && rollbacks[n-1].To == r.To {
				r.Time = rollbacks[n-1].Time
				rollbacks[n-1] = r
			} else {
				rollbacks = append(rollbacks, r)
			}
		}
	}
	return bundles, rollbacks
}

func collectFiles(root string) []FileInfo {
	var out []FileInfo
	for _, p := range rootPaths() {
		fi := FileInfo{Path: p}
		full := filepath.Join(root, p)
		info, err := os.Lstat(full)
		if err == nil {
			fi.Exists = true
			fi.Mode = info.Mode()
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				fi.UID, fi.GID = int(st.Uid), int(st.Gid)
			}
			if info.Mode()&os.ModeSymlink != 0 {
				fi.Target, _ = os.Readlink(full)
			}
		}
		out = append(out, fi)
	}
	return out
}

func collectIntegrity(ctx context.Context, root string, releases int) Integrity {
	in := Integrity{Releases: releases}
	if releases == 0 {
		in.Problem = "no release is installed: there is no content to check"
		return in
	}
	drift, err := installer.Check(ctx, root)
	switch {
	case err == nil:
		in.Checked = true
	case errors.Is(err, installer.ErrDrift):
		in.Checked = true
		for _, d := range drift {
			s := d.Kind + " " + d.Path
			if d.Release != "" {
				s = d.Kind + " " + d.Release + "/" + d.Path
			}
			if d.Detail != "" {
				s += ": " + d.Detail
			}
			in.Differences = append(in.Differences, s)
		}
		slices.Sort(in.Differences)
	default:
		in.Problem = "installed content could not be checked: " + err.Error()
	}
	return in
}

// algorithms lists the cryptography ferry relies on for this appliance:
// SHA-256 always, and the signature scheme of each trusted key type.
func algorithms(trust []TrustKey) []Algorithm {
	out := []Algorithm{{
		Name: "SHA-256", FIPSModule: true,
		Use: "bundle identity (manifest digest), the digest of every bundle entry and installed blob, the audit log's hash chain",
	}}
	types := map[string]int{}
	for _, k := range trust {
		if k.Type != "" {
			types[k.Type]++
		}
	}
	for _, t := range slices.Sorted(maps.Keys(types)) {
		use := fmt.Sprintf("bundle signatures (%d trusted key(s))", types[t])
		switch verify.KeyType(t) {
		case verify.KeyECDSAP256:
			out = append(out, Algorithm{Name: "ECDSA P-256 with SHA-256", Use: use, FIPSModule: true})
		case verify.KeyEd25519:
			out = append(out, Algorithm{Name: "Ed25519", Use: use, FIPSModule: true})
		case verify.KeyOpenPGP:
			out = append(out, Algorithm{Name: "OpenPGP signatures (ProtonMail go-crypto)", Use: use, FIPSModule: false})
		default:
			out = append(out, Algorithm{Name: t, Use: use})
		}
	}
	return out
}
