package installer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"ferry/installer/state"
)

// Audit field values saying what became of a command: every entry of an
// install that ferry let through carries outcome=accepted, every refusal
// outcome=refused with the error that says why.
const (
	OutcomeAccepted = "accepted"
	OutcomeRefused  = "refused"
)

// Refusal classes, the "class" field of a refused bundle's audit entry.
// A bundle that does not fit the host (another base, not newer, already
// applied, another bundle of the same version, another platform, a
// service account the host cannot provide, no trusted keys given) is an
// operator's mistake; any other refusal may be a bundle that is not
// genuine or was altered, which the supply-chain controls keep open until
// the organisation has followed it up.
const (
	RefusedHost      = "host"
	RefusedIntegrity = "integrity"
)

// ErrNoFinding is an acknowledgement that names no refusal of a bundle
// that the compliance report holds open.
var ErrNoFinding = errors.New("no integrity finding to acknowledge")

// refusalClass says whether err refused a bundle for not fitting this
// host (RefusedHost) or for anything else (RefusedIntegrity). An unknown
// reason counts as integrity: it stays a finding until followed up.
func refusalClass(err error) string {
	for _, fit := range []error{ErrWrongBase, ErrNotNewer, ErrReplay, ErrConflict, ErrPlatform, ErrServiceAccount, ErrNoTrust} {
		if errors.Is(err, fit) {
			return RefusedHost
		}
	}
	return RefusedIntegrity
}

// refuse records a bundle's refusal in the audit log, once, and returns
// err: the refusal's only trace on the host.
func refuse(db *state.DB, path string, err error) error {
	_ = db.Audit("install.refused", map[string]string{
		"bundle":  filepath.Base(path),
		"outcome": OutcomeRefused,
		"class":   refusalClass(err),
		"error":   err.Error(),
	})
	return err
}

// AcknowledgeFinding records, as "compliance.acknowledged" with the
// reason, the organisation's follow-up of the bundle refusal at audit
// entry seq: the compliance report then shows the refusal with the
// acknowledgement instead of holding SR-4(3) and SR-11 open for it. Only
// a refusal that may be an integrity finding can be acknowledged
// (ErrNoFinding otherwise): a bundle that did not fit the host is no
// finding.
func AcknowledgeFinding(root string, seq uint64, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("acknowledge a finding: say what the organisation found and did (--reason): assessors read it")
	}
	db, err := state.Open(root, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.VerifyAudit(); err != nil {
		return err
	}
	log, err := db.AuditLog()
	if err != nil {
		return err
	}
	if seq == 0 || seq > uint64(len(log)) {
		return fmt.Errorf("%w: the audit log has no entry %d (it has %d)", ErrNoFinding, seq, len(log))
	}
	e := log[seq-1]
	kind, outcome, _ := strings.Cut(e.Event, ".")
	if (kind != "install" && kind != "update") || outcome != OutcomeRefused {
		return fmt.Errorf("%w: audit entry %d is %s, not a refused bundle", ErrNoFinding, seq, e.Event)
	}
	if e.Fields["class"] == RefusedHost {
		return fmt.Errorf("%w: audit entry %d refused bundle %s because it does not fit this host, which is no integrity finding", ErrNoFinding, seq, e.Fields["bundle"])
	}
	for _, a := range log[seq:] {
		if a.Event == "compliance.acknowledged" && a.Fields["entry"] == strconv.FormatUint(seq, 10) {
			return fmt.Errorf("%w: audit entry %d was acknowledged already, at entry %d", ErrNoFinding, seq, a.Seq)
		}
	}
	return db.Audit("compliance.acknowledged", map[string]string{"entry": strconv.FormatUint(seq, 10), "reason": reason})
}
