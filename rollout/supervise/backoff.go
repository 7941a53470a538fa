package supervise

import "time"

// backoff spaces the restarts of a crashing process: min, then doubling up
// to max, and back to min once a process has stayed up for stableAfter, so
// that a service that crashes once a day restarts at once while one that
// crashes at start does not spin.
type backoff struct {
	min, max, stableAfter time.Duration
	next                  time.Duration
}

// after returns how long to wait before restarting a process that ran for
// uptime.
func (b *backoff) after(uptime time.Duration) time.Duration {
	if b.next == 0 || uptime >= b.stableAfter {
		b.next = b.min
	}
	d := b.next
	b.next = min(b.next*2, b.max)
	return d
}
