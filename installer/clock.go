package installer

import (
	"fmt"
	"log/slog"
	"time"

	"ferry/installer/state"
	"ferry/license"
)

// clockMark is the latest time this host has seen, RFC 3339 in UTC.
const clockMark = "clock-high-water"

// ClockTolerance is how far the system clock may be behind the high-water
// mark before ferry reports it: NTP steps and a VM restored a little
// earlier stay quiet; a clock set back by hours does not.
const ClockTolerance = 5 * time.Minute

// Clock is the time judged by (max of the system clock and the high-water
// mark) and what the system clock said.
type Clock struct {
	Now       time.Time `json:"now"`
	System    time.Time `json:"system"`
	HighWater time.Time `json:"highWater"`
	// Behind is set when the system clock is more than ClockTolerance
	// behind the high-water mark.
	Behind bool `json:"behind"`
	// BadMark is the stored mark when it is not a time: state.db was
	// changed behind ferry's back. The reading then rests on the newest
	// audit entry alone.
	BadMark string `json:"badMark"`
	// Mark is the stored mark (zero when it is missing or not a time).
	Mark time.Time `json:"mark"`
}

// ReadClock applies the clock rule without changing anything: the
// high-water mark is the later of the stored mark and the newest audit
// entry, so deleting the mark alone, or replacing it with something that
// is not a time, does not bring time back.
func ReadClock(db *state.DB, system time.Time) (Clock, error) {
	mark, bad := time.Time{}, ""
	if v, err := db.Mark(clockMark); err != nil {
		return Clock{}, err
	} else if v != nil {
		if t, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
			mark = t.UTC()
		} else {
			bad = string(v)
		}
	}
	hw := mark
	last, err := db.LastAuditTime()
	if err != nil {
		return Clock{}, err
	}
	if last.After(hw) {
		hw = last
	}
	now, behind := license.EffectiveNow(system.UTC(), hw.UTC(), ClockTolerance)
	return Clock{Now: now, System: system.UTC(), HighWater: hw.UTC(), Behind: behind, BadMark: bad, Mark: mark}, nil
}

// observeClock reads the clock and raises the high-water mark to it; a
// clock set back is logged and audited, and so is a mark that is not a
// time, which is then written anew.
//
// The mark is raised first, to the time judged by (which takes in the
// newest audit entry), so that every clock.behind entry records a
// high-water time the mark has reached: the mark only ever goes down by
// an audited clock.reset, which audit --verify relies on.
func observeClock(db *state.DB, log *slog.Logger) (Clock, error) {
	c, err := ReadClock(db, time.Now())
	if err != nil {
		return c, err
	}
	if c.Now.After(c.Mark) || c.BadMark != "" {
		if err := db.SetMark(clockMark, []byte(c.Now.Format(time.RFC3339Nano))); err != nil {
			return c, err
		}
	}
	if c.BadMark != "" {
		log.Warn("the latest time this host has seen is not a time in state.db; judging by the newest audit entry", "mark", c.BadMark)
		if err := db.Audit("clock.mark-invalid", map[string]string{"mark": fmt.Sprintf("%.64q", c.BadMark)}); err != nil {
			return c, err
		}
	}
	if c.Behind {
		log.Warn("the system clock is behind the latest time this host has seen; judging expiry by the later time",
			"system", c.System.Format(time.RFC3339), "seen", c.HighWater.Format(time.RFC3339))
		if err := db.Audit("clock.behind", map[string]string{
			"system": c.System.Format(time.RFC3339Nano), "high-water": c.HighWater.Format(time.RFC3339Nano),
		}); err != nil {
			return c, err
		}
	}
	return c, nil
}
