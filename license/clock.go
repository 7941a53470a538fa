package license

import "time"

// EffectiveNow is the clock rule: licences and bundles are judged at
// max(system, highWater), where highWater is the latest time the host has
// recorded seeing. Setting the system clock back therefore revives no
// expired licence.
//
// clockBack reports that the system clock is more than tolerance behind
// the high-water mark: worth a warning and an audit entry, since it is
// either a clock that lost its battery or an attempt to run on an expired
// licence. Small steps back (NTP corrections, a VM restored a little
// earlier) within tolerance are not reported. A negative tolerance counts
// as zero.
//
// The caller raises the stored high-water mark to now after each use, and
// never lowers it.
func EffectiveNow(system, highWater time.Time, tolerance time.Duration) (now time.Time, clockBack bool) {
	now = system
	if highWater.After(system) {
		now = highWater
	}
	tolerance = max(tolerance, 0)
	return now, system.Before(highWater.Add(-tolerance))
}
