package compliance

import (
	"io/fs"
	"strings"
	"time"

	"ferry/config"
	"ferry/installer"
)

// Evidence is everything a report states about one appliance, gathered
// at one moment. It holds facts only; Assess draws the conclusions.
type Evidence struct {
	// Collected is when the evidence was gathered: the report's time.
	Collected time.Time `json:"collected"`
	// Root is the appliance root as it was given.
	Root string `json:"root"`
	// Host is the host's name, which checklists call the asset.
	Host string `json:"host,omitempty"`
	Tool Tool   `json:"tool"`
	// Files are the modes and owners of the root and its parts.
	Files []FileInfo `json:"files"`
	Trust []TrustKey `json:"trust"`
	// TrustThreshold is how many distinct trusted keys must sign every
	// install and update, as the appliance stores it.
	TrustThreshold int `json:"trustThreshold"`
	// Retired is the key material rotation statements retired, which the
	// appliance never trusts again unless a later statement names it.
	Retired    []RetiredKey  `json:"retiredKeys,omitempty"`
	Current    string        `json:"current,omitempty"`
	Releases   []Release     `json:"releases"`
	Txns       []Txn         `json:"transactions"`
	OpenTxn    *Txn          `json:"openTransaction,omitempty"`
	Bundles    []BundleEvent `json:"bundles"`
	Rollbacks  []Rollback    `json:"rollbacks"`
	Migrations []Migration   `json:"migrations"`
	Audit      Audit         `json:"audit"`
	Integrity  Integrity     `json:"integrity"`
	Algorithms []Algorithm   `json:"algorithms"`
	Marks      []Mark        `json:"marks,omitempty"`
	License    License       `json:"license"`
	Clock      Clock         `json:"clock"`
	Rollouts   Rollouts      `json:"rollouts"`
	// Configurations are the site configurations of the releases kept on
	// the appliance, oldest revision first: every value with its source,
	// a secret's only as set or unset.
	Configurations []config.Report `json:"configurations,omitempty"`
	// ConfigChanges are the configurations applied, from the audit log.
	ConfigChanges []ConfigChange `json:"configChanges,omitempty"`
	// Sites is routing across sites, from the audit log.
	Sites Sites `json:"sites,omitzero"`
}

// ConfigChange is one configuration applied to the appliance, as the
// audit log records it: names and sources, never a value.
type ConfigChange struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Release  string    `json:"release"`
	Revision string    `json:"revision"`
	// Given names the values the operator gave, with where from.
	Given string `json:"given,omitempty"`
	// Changed names the values a `ferry config set` changed.
	Changed string `json:"changed,omitempty"`
	// From is the release the change was made from; Reason says why
	// (a rollback to a kept revision).
	From   string `json:"from,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Tool describes the ferry that made the report and its cryptography.
type Tool struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	// FIPS140 is crypto/fips140.Enabled(): the binary runs the Go
	// Cryptographic Module in FIPS 140-3 mode.
	FIPS140 bool `json:"fips140"`
	// FIPS140Module is the module's version when FIPS140 is true.
	FIPS140Module string `json:"fips140Module,omitempty"`
}

// FileInfo is the mode and owner of one path under the root.
type FileInfo struct {
	Path   string      `json:"path"` // relative to the root; "." is the root
	Exists bool        `json:"exists"`
	Mode   fs.FileMode `json:"mode"`
	UID    int         `json:"uid"`
	GID    int         `json:"gid"`
	Target string      `json:"target,omitempty"` // a symlink's target
}

// TrustKey is one key of the appliance's trust store.
type TrustKey struct {
	ID     string `json:"id"`
	Type   string `json:"type,omitempty"` // ecdsa-p256, ed25519, openpgp
	SHA256 string `json:"sha256"`         // of the key as stored
	// Added is when the audit log recorded the key being trusted; zero
	// when it has no record of it.
	Added time.Time `json:"added,omitzero"`
	// Rotation is the sequence number of the key rotation statement that
	// brought the key in, when one did (rather than `ferry trust add`).
	Rotation int `json:"rotation,omitempty"`
	// Problem says why the key cannot be used, if it cannot.
	Problem string `json:"problem,omitempty"`
}

// RetiredKey is key material a rotation statement retired.
type RetiredKey struct {
	Material string `json:"material"` // SHA-256 of the key's PKIX DER encoding
	ID       string `json:"id"`       // the key that held it
	Rotation int    `json:"rotation"` // the statement's sequence number
}

// Release is one release kept on the appliance and how it was verified.
type Release struct {
	Version        string    `json:"version"`
	Name           string    `json:"name,omitempty"`
	Vendor         string    `json:"vendor,omitempty"`
	ManifestDigest string    `json:"manifestDigest"`
	Status         string    `json:"status"`
	Current        bool      `json:"current"`
	Created        time.Time `json:"created,omitzero"`
	Installed      time.Time `json:"installed,omitzero"`
	Expires        time.Time `json:"expires,omitzero"`
	Base           string    `json:"base,omitempty"` // the base manifest digest of an update
	Components     []string  `json:"components,omitempty"`
	Entries        int       `json:"entries"`
	Images         []string  `json:"images,omitempty"`
	Files          int       `json:"files"`
	Checks         []Check   `json:"checks,omitempty"`
	// DigestMatches is whether the stored signed manifest still hashes to
	// the recorded manifest digest.
	DigestMatches bool `json:"digestMatches"`
	// VerifiedBy is the committed transaction that installed this exact
	// bundle; ferry begins one only after the whole bundle verified.
	VerifiedBy *Txn `json:"verifiedBy,omitempty"`
	// Problems say why the release does not count as verified.
	Problems []string `json:"problems,omitempty"`
}

// Verified reports whether the release was installed from a bundle that
// ferry verified and that still matches what was recorded.
func (r Release) Verified() bool { return len(r.Problems) == 0 }

// Check is the recorded result of one post-install check.
type Check struct {
	Name   string    `json:"name"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// Txn is one journalled install, update or rollback.
type Txn struct {
	ID           uint64    `json:"id"`
	Kind         string    `json:"kind"`
	Version      string    `json:"version,omitempty"`
	BundleDigest string    `json:"bundleDigest,omitempty"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished,omitzero"`
	State        string    `json:"state"`
	Reason       string    `json:"reason,omitempty"`
	Steps        int       `json:"steps"`
	FailedSteps  int       `json:"failedSteps"`
}

// BundleEvent is one bundle ferry was asked to install, from the audit
// log: activated, a no-op reinstall, refused, failed or checked.
type BundleEvent struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Event   string    `json:"event"`
	Version string    `json:"version,omitempty"`
	Bundle  string    `json:"bundle,omitempty"` // manifest digest or file name
	Detail  string    `json:"detail,omitempty"`
	// Class is a refusal's class as recorded: "host" for a bundle that
	// does not fit the host (an operator's mistake), "integrity" (or
	// nothing, in logs of an older ferry) for one that may not be genuine.
	Class string `json:"class,omitempty"`
	// Acknowledged is the organisation's follow-up of an integrity
	// finding, recorded by `ferry compliance ack`.
	Acknowledged *Acknowledgement `json:"acknowledged,omitempty"`
}

// Refused reports whether the event is a bundle ferry would not install.
func (b BundleEvent) Refused() bool { return strings.HasSuffix(b.Event, ".refused") }

// Finding reports whether the event is a refusal that may be a bundle that
// was not genuine or was altered: any refusal but one of a bundle that
// does not fit the host.
func (b BundleEvent) Finding() bool { return b.Refused() && b.Class != "host" }

// Acknowledgement is a compliance.acknowledged entry of the audit log.
type Acknowledgement struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
}

// Rollback is a transaction that went back: a rollback, or an install
// compensated after a failure or a crash.
type Rollback struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// Migration is one database migration applied by a committed transaction.
type Migration struct {
	Release  string    `json:"release"`
	Database string    `json:"database"`
	Version  int       `json:"version"`
	Name     string    `json:"name"`
	Applied  time.Time `json:"applied"`
}

// Audit is the state of the hash-chained audit log, re-verified when the
// evidence is collected.
type Audit struct {
	Entries  int       `json:"entries"`
	HeadSeq  uint64    `json:"headSeq"`
	Head     string    `json:"head"`
	First    time.Time `json:"first,omitzero"`
	Last     time.Time `json:"last,omitzero"`
	Verified bool      `json:"verified"`
	// BrokenAt is the first bad entry when the chain does not verify.
	BrokenAt uint64 `json:"brokenAt,omitempty"`
	Problem  string `json:"problem,omitempty"`
	// NotUTC counts entries whose time is not in UTC; OutOfOrder those
	// earlier than the entry before them (a clock set back, or reset),
	// after the last clock.acknowledged entry, and OutOfOrderAcknowledged
	// those before it.
	NotUTC                 int          `json:"notUTC"`
	OutOfOrder             int          `json:"outOfOrder"`
	OutOfOrderAcknowledged int          `json:"outOfOrderAcknowledged,omitempty"`
	Events                 []EventCount `json:"events"`
}

// EventCount is how many audit entries of one event type there are.
type EventCount struct {
	Event string    `json:"event"`
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// Integrity is the re-hash of installed content against the signed
// manifests, done when the evidence is collected (ferry check).
type Integrity struct {
	Checked     bool     `json:"checked"`
	Releases    int      `json:"releases"`
	Differences []string `json:"differences,omitempty"`
	Problem     string   `json:"problem,omitempty"`
}

// Algorithm is one cryptographic mechanism ferry used on this appliance.
type Algorithm struct {
	Name string `json:"name"`
	Use  string `json:"use"`
	// FIPSModule is whether it is implemented inside the Go Cryptographic
	// Module (and so in its FIPS 140-3 boundary when FIPS mode is on).
	FIPSModule bool `json:"fipsModule"`
}

// Mark is a recorded high-water mark.
type Mark struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// License is the appliance's licence standing for its current release,
// judged at the evidence's clock (Clock.Now), with the licence history
// and the audit entries that show ferry enforcing it.
type License struct {
	// Release and Product are the current release's version and bundle
	// name: what the licence is judged for.
	Release string `json:"release,omitempty"`
	Product string `json:"product,omitempty"`
	// Policy says the release names licence keys (its ferry.yaml has a
	// license section); Keys is how many. Required says the release needs
	// a licence to be installed or updated.
	Policy   bool `json:"policy"`
	Keys     int  `json:"keys,omitempty"`
	Required bool `json:"required"`
	// Installed is the licence file stored on the host; nil when none is.
	Installed *InstalledLicense `json:"installed,omitempty"`
	// State is where the installed licence stands at Clock.Now: valid,
	// grace, expired or not-yet-valid; empty when there is none to judge.
	State string `json:"state,omitempty"`
	// GraceEnds is when the grace period ends, while the licence is in it.
	GraceEnds time.Time `json:"graceEnds,omitzero"`
	// Problem says why the licence does not allow installs and updates of
	// the release; empty when it does or when none is needed.
	Problem string `json:"problem,omitempty"`
	// UpdatesAllowed says whether an install or update of the current
	// product and version would pass the licence check at Clock.Now.
	UpdatesAllowed bool `json:"updatesAllowed"`
	// History is every licence installed on the host, oldest first.
	History []LicenseRecord `json:"history,omitempty"`
	// Events are the audit entries of licence enforcement, in log order.
	Events []LicenseEvent `json:"events,omitempty"`
	// ReadError says why the licence state could not be read; nothing
	// above is known then.
	ReadError string `json:"readError,omitempty"`
}

// InstalledLicense is the licence file stored on the host. Its terms are
// filled in only when the file verified against the release's licence
// keys: an unverified file's claims are not evidence.
type InstalledLicense struct {
	// SHA256 is of the file as stored.
	SHA256 string `json:"sha256"`
	// Verified says its signatures verified against the licence keys of
	// the current release.
	Verified bool `json:"verified"`
	// Recorded says it is the file ferry last installed: its SHA-256 is
	// the one the history recorded. A file changed or swapped behind
	// ferry's back is not.
	Recorded   bool      `json:"recorded"`
	ID         string    `json:"id,omitempty"`
	Customer   string    `json:"customer,omitempty"`
	Product    string    `json:"product,omitempty"` // empty: any product
	Issued     time.Time `json:"issued,omitzero"`
	NotBefore  time.Time `json:"notBefore,omitzero"`
	Expires    time.Time `json:"expires,omitzero"`
	Grace      string    `json:"grace,omitempty"`      // as the licence file writes it, "720h0m0s"
	Components []string  `json:"components,omitempty"` // empty: all
	Versions   string    `json:"versions,omitempty"`   // empty: all
	Nodes      int       `json:"nodes,omitempty"`      // 0: unlimited; recorded, not counted
	Bind       string    `json:"bind,omitempty"`       // empty: any host
	// Installed is when ferry installed it, from the history.
	Installed time.Time `json:"installed,omitzero"`
}

// LicenseRecord is one licence in the host's history, as the installer
// records it.
type LicenseRecord = installer.LicenseRecord

// LicenseEvent is one audit entry of licence enforcement: a licence
// installed, checked, used in its grace period or refused, or a bundle
// refused for its licence.
type LicenseEvent struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`
	License  string    `json:"license,omitempty"`
	Customer string    `json:"customer,omitempty"`
	Version  string    `json:"version,omitempty"`
	State    string    `json:"state,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// Status is the licence standing in a sentence, for the report's list of
// features.
func (l License) Status() string {
	switch {
	case l.ReadError != "":
		return "the licence state could not be read: " + l.ReadError
	case l.Release == "":
		return "no release is current, so no licence applies"
	case !l.Policy:
		return "release " + l.Release + " names no licence keys: ferry checks no licence for it"
	case l.Installed == nil && l.Required:
		return "release " + l.Release + " requires a licence and none is installed"
	case l.Installed == nil:
		return "release " + l.Release + " accepts a licence but does not require one, and none is installed"
	case l.Problem != "":
		return "the installed licence does not allow installs or updates: " + l.Problem
	case l.State == "grace":
		return "licence " + l.Installed.ID + " for " + l.Installed.Customer + " HAS EXPIRED and is in its grace period until " + stamp(l.GraceEnds) + "; install a renewed licence"
	}
	return "licence " + l.Installed.ID + " for " + l.Installed.Customer + " is " + l.State + " until " + stamp(l.Installed.Expires) + " and enforced by ferry"
}

// Clock is the time evidence: what the system clock said when the
// evidence was collected, the latest time the host has recorded seeing,
// and the times ferry found the clock set back. Licences and bundle
// expiry are judged at Now, the later of System and HighWater, so setting
// the clock back revives nothing.
type Clock struct {
	System time.Time `json:"system"`
	// HighWater is the later of the clock-high-water mark and the newest
	// audit entry.
	HighWater time.Time `json:"highWater,omitzero"`
	Now       time.Time `json:"now"`
	// Behind says System is more than Tolerance behind HighWater.
	Behind    bool          `json:"behind"`
	Tolerance time.Duration `json:"tolerance"`
	// Events are the clock.behind, clock.mark-invalid and clock.reset
	// entries of the audit log: each time ferry found the system clock
	// behind the latest time it had seen or its record of that time not a
	// time, and each time an operator lowered it.
	Events []ClockEvent `json:"events,omitempty"`
	// Acknowledgements are the clock.acknowledged entries: the
	// organisation looked into the clock problems recorded before each.
	Acknowledgements []ClockAcknowledgement `json:"acknowledgements,omitempty"`
	// Problem says why the clock evidence could not be read.
	Problem string `json:"problem,omitempty"`
}

// ClockEvent is one clock.behind audit entry.
type ClockEvent struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	System    string    `json:"system"`
	HighWater string    `json:"highWater"`
	// BadMark is set instead of System and HighWater for an entry that
	// records a high-water mark that was not a time.
	BadMark string `json:"badMark,omitempty"`
	// Reset is set for a clock.reset entry: the mark was lowered from
	// HighWater to To, for Reason, with a statement signed by SignedBy
	// (licence key ids) when a licence was installed.
	Reset    bool   `json:"reset,omitempty"`
	To       string `json:"to,omitempty"`
	Reason   string `json:"reason,omitempty"`
	SignedBy string `json:"signedBy,omitempty"`
	// AcknowledgedAt is the clock.acknowledged entry that covers this
	// one (0: none yet).
	AcknowledgedAt uint64 `json:"acknowledgedAt,omitempty"`
}

// ClockAcknowledgement is one clock.acknowledged audit entry.
type ClockAcknowledgement struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
}

// Rollouts are the traffic shifts `ferry serve` made on this appliance, as
// it recorded them: for each service the rollout it saved last and the
// audit entries of its rollouts, and the releases it rolled back after
// a rollout was aborted.
type Rollouts struct {
	// Services are in name order: every service with a saved rollout or
	// a rollout entry in the audit log.
	Services []ServiceRollouts `json:"services,omitempty"`
	// ReleaseRollbacks are the release rollbacks that aborted rollouts
	// asked for, in log order, the failed ones too.
	ReleaseRollbacks []ReleaseRollback `json:"releaseRollbacks,omitempty"`
	// Problem says why the saved rollouts could not be read.
	Problem string `json:"problem,omitempty"`
}

// ServiceRollouts is what ferry serve recorded of one service's rollouts.
type ServiceRollouts struct {
	Service string `json:"service"`
	// Last is the rollout saved for the service, its latest, as it stood
	// when ferry serve last saved it; nil when none is saved.
	Last *RolloutState `json:"last,omitempty"`
	// Problem says why the saved rollout could not be read.
	Problem string `json:"problem,omitempty"`
	// Decisions are the audit entries of the service's rollout decisions,
	// every rollout's, in log order.
	Decisions []RolloutDecision `json:"decisions,omitempty"`
	// Commands are the operators' commands ferry serve received for the
	// service, in log order. A command the rollout refused changed
	// nothing; the decisions show what the others did.
	Commands []RolloutCommand `json:"commands,omitempty"`
	// Resumed are the times a restarted ferry serve took up a rollout of
	// the service where it had been saved.
	Resumed []RolloutResumed `json:"resumed,omitempty"`
}

// RolloutState is a saved rollout: the service's traffic moving from its
// stable version to a new one.
type RolloutState struct {
	Strategy string    `json:"strategy"`
	Stable   string    `json:"stable"`
	New      string    `json:"new"`
	Phase    string    `json:"phase"`
	Paused   bool      `json:"paused,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	// Step is the step reached of Steps, the plan's percentages of traffic
	// for the new version; 0 before any traffic went to it. After an abort
	// it is the step where the rollout stopped.
	Step  int   `json:"step"`
	Steps []int `json:"steps,omitempty"`
	// Weight is the percentage of traffic on the new version.
	Weight int `json:"weight"`
	// Approval are the steps that wait for `ferry rollout promote`.
	Approval     []int            `json:"approval,omitempty"`
	LastDecision *RolloutDecision `json:"lastDecision,omitempty"`
	// AbortCause says why the rollout was aborted.
	AbortCause string `json:"abortCause,omitempty"`
}

// StableWeight is the percentage of traffic on the stable version.
func (r RolloutState) StableWeight() int { return 100 - r.Weight }

// RolloutDecision is one decision of a rollout. From the audit log it has
// the entry's sequence number and the rollout's fields as recorded; a
// saved rollout's last decision has neither (Seq is 0).
type RolloutDecision struct {
	Seq      uint64    `json:"seq,omitempty"`
	Time     time.Time `json:"time"`
	Action   string    `json:"action"`
	Reason   string    `json:"reason"`
	Strategy string    `json:"strategy,omitempty"`
	Stable   string    `json:"stable,omitempty"`
	New      string    `json:"new,omitempty"`
	// Phase and Weight are the rollout's after the decision; Weight is
	// the new version's percentage of traffic, as recorded.
	Phase  string `json:"phase,omitempty"`
	Weight string `json:"weight,omitempty"`
	// Canary and StableMetrics are the samples of the new and the stable
	// version that an analysis judged.
	Canary        string `json:"canary,omitempty"`
	StableMetrics string `json:"stableMetrics,omitempty"`
}

// RolloutCommand is an operator's `ferry rollout` command.
type RolloutCommand struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Command string    `json:"command"` // promote, abort, pause or resume
	// Outcome is "accepted" or "refused" (empty in logs of an older
	// ferry); Reason says why a command was refused.
	Outcome string `json:"outcome,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Refused reports whether the rollout refused the command.
func (c RolloutCommand) Refused() bool { return c.Outcome == "refused" }

// RolloutResumed is a rollout taken up by a restarted ferry serve, where
// it stood.
type RolloutResumed struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Stable string    `json:"stable"`
	New    string    `json:"new"`
	Phase  string    `json:"phase"`
	Step   string    `json:"step"`
	Weight string    `json:"weight"`
}

// ReleaseRollback is ferry serve taking the appliance back from the
// release a rollout brought (From) to the one before it (To), after the
// rollout was aborted.
type ReleaseRollback struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
	// Error says why the rollback failed: traffic was back on To, but
	// the release stayed From.
	Error string `json:"error,omitempty"`
	// Services are those whose latest rollout before the entry went from
	// To to From and was aborted: the audit entry does not name them.
	Services []string `json:"services,omitempty"`
}

// Failed reports whether the release stayed where the aborted rollout
// left it.
func (r ReleaseRollback) Failed() bool { return r.Error != "" }
