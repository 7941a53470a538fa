package compliance

import (
	"io/fs"
	"strings"
	"time"
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
	Files      []FileInfo    `json:"files"`
	Trust      []TrustKey    `json:"trust"`
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
	Licence    Feature       `json:"licence"`
	Rollouts   Feature       `json:"rollouts"`
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
	// Problem says why the key cannot be used, if it cannot.
	Problem string `json:"problem,omitempty"`
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
}

// Refused reports whether the event is a bundle ferry would not install.
func (b BundleEvent) Refused() bool { return strings.HasSuffix(b.Event, ".refused") }

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
	// earlier than the entry before them (a clock set back).
	NotUTC     int          `json:"notUTC"`
	OutOfOrder int          `json:"outOfOrder"`
	Events     []EventCount `json:"events"`
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

// Feature says whether a ferry feature that evidence depends on exists
// in this ferry and on this appliance.
type Feature struct {
	Available bool   `json:"available"`
	Status    string `json:"status"`
}
