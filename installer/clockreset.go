package installer

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"ferry/installer/state"
	"ferry/license"
)

// ErrClockReset means a clock reset was refused: no reason given, nothing
// to reset, no vendor statement where a licence needs one, or a statement
// for another moment of this host (or one already used).
var ErrClockReset = errors.New("clock reset refused")

// ClockResetOptions control ResetClock.
type ClockResetOptions struct {
	// Reason says why the clock ran ahead; it is audited and shown to
	// assessors. Required.
	Reason string
	// Statement is a clock reset statement signed by a licence key of the
	// current release (license.IssueClockReset). It is required when a
	// licence is installed, and then decides the new mark.
	Statement []byte
	// Fingerprints are this host's fingerprints; nil reads them.
	Fingerprints []string
	Log          *slog.Logger
}

// ClockResetResult says what a reset did.
type ClockResetResult struct {
	// From is the latest time the host had seen, To the new mark.
	From, To time.Time
	// SignedBy are the licence keys of the statement, if one was used.
	SignedBy []string
}

// ResetClock lowers the latest time this host has seen, for a host whose
// clock once ran ahead: every expiry is judged by that time, so without a
// way down such a host stays locked out for good. It is audited as
// "clock.reset" with the operator's reason, and the compliance report fails
// AU-8 for it until `ferry clock acknowledge` records that the organisation
// looked into it.
//
// Without a licence installed the mark goes down to the system clock. With
// one, lowering it would revive a licence the host has seen expire, so it
// needs a statement signed by a licence key of the current release that
// names this host, the mark as it stands (so a statement works once, and
// at no other moment) and the new time, which the vendor vouches for. The
// time judged afterwards is the later of the system clock and that new
// time: a licence expired before it stays expired.
func ResetClock(root string, opts ClockResetOptions) (*ClockResetResult, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reason := strings.TrimSpace(opts.Reason)
	if reason == "" {
		return nil, fmt.Errorf("%w: say why the clock ran ahead (--reason): assessors read it", ErrClockReset)
	}
	db, err := state.Open(root, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := finishInterrupted(db, root, log, newUndoer(root, nil, log)); err != nil {
		return nil, err
	}
	c, err := ReadClock(db, time.Now())
	if err != nil {
		return nil, err
	}
	res := &ClockResetResult{From: c.HighWater, To: c.System}
	licensed, err := db.Mark(licenseMark)
	if err != nil {
		return nil, err
	}
	if licensed != nil || opts.Statement != nil {
		if opts.Statement == nil {
			return nil, fmt.Errorf("%w: a licence is installed, and lowering the latest time this host has seen (%s) could revive it: "+
				"ask the vendor for a clock reset statement for this host (`ferry clock show` prints what they need) and give it with --statement",
				ErrClockReset, c.HighWater.Format(time.RFC3339))
		}
		fps := opts.Fingerprints
		if fps == nil {
			fps = hostFingerprints()
		}
		if res.To, res.SignedBy, err = checkClockStatement(db, opts.Statement, c, fps); err != nil {
			_ = db.Audit("clock.reset-refused", map[string]string{"outcome": OutcomeRefused, "error": err.Error()})
			return nil, err
		}
	} else if !c.HighWater.After(c.System) {
		return nil, fmt.Errorf("%w: the latest time this host has seen (%s) is not ahead of the system clock (%s): there is nothing to reset",
			ErrClockReset, c.HighWater.Format(time.RFC3339Nano), c.System.Format(time.RFC3339Nano))
	}
	// The entry first: a crash before the mark is written leaves the
	// reset audited and the mark as it was, and the reset can be run
	// again.
	if err := db.Audit("clock.reset", map[string]string{
		"from": res.From.Format(time.RFC3339Nano), "to": res.To.Format(time.RFC3339Nano),
		"system": c.System.Format(time.RFC3339Nano), "reason": reason, "signed-by": strings.Join(res.SignedBy, ","),
	}); err != nil {
		return nil, err
	}
	if err := db.SetMark(clockMark, []byte(res.To.Format(time.RFC3339Nano))); err != nil {
		return nil, err
	}
	log.Warn("the latest time this host has seen was lowered; the compliance report fails AU-8 until `ferry clock acknowledge`",
		"from", res.From.Format(time.RFC3339), "to", res.To.Format(time.RFC3339))
	return res, nil
}

// checkClockStatement verifies a clock reset statement against the
// licence keys of the current release and this host's state, and returns
// the new mark and the keys that signed it.
func checkClockStatement(db *state.DB, data []byte, c Clock, fps []string) (time.Time, []string, error) {
	m, err := currentManifest(db)
	if err != nil {
		return time.Time{}, nil, err
	}
	if m.License == nil {
		return time.Time{}, nil, fmt.Errorf("%w: release %s of %s names no licence keys, so no clock reset statement can be checked", ErrNoLicensePolicy, m.Version, m.Name)
	}
	trust, err := licenseTrust(m)
	if err != nil {
		return time.Time{}, nil, err
	}
	r, ids, err := license.VerifyClockReset(data, trust)
	if err != nil {
		return time.Time{}, nil, err
	}
	if !slices.Contains(fps, r.Host) {
		return time.Time{}, nil, fmt.Errorf("%w: the clock reset statement is for host %s, this host is %s", license.ErrWrongHost, r.Host, strings.Join(fps, ", "))
	}
	if at := c.HighWater.Truncate(time.Second); !r.From.Equal(at) {
		return time.Time{}, nil, fmt.Errorf("%w: the statement lowers the mark %s, this host is at %s: it was made for another moment, or has been used",
			ErrClockReset, r.From.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	return r.To, ids, nil
}

// AcknowledgeClock records, as "clock.acknowledged" with the reason, that
// the organisation has looked into every clock problem ferry recorded so
// far (a clock found behind, a mark that was not a time, a reset, audit
// records out of time order): the compliance report then shows them as
// acknowledged instead of failing AU-8 for them. Problems recorded later,
// and a clock behind now, still fail it.
func AcknowledgeClock(root, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("acknowledge the clock: say what was found (--reason): assessors read it")
	}
	db, err := state.Open(root, false)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Audit("clock.acknowledged", map[string]string{"reason": reason})
}
