package sites

import "time"

// smoothing is the weight of a new probe's latency in the smoothed one
// (an exponentially weighted moving average): one slow probe moves it a
// quarter of the way, so it takes a few in a row to move traffic.
const smoothing = 0.25

// smooth returns the smoothed latency after a probe that took rtt; prev
// zero is the first probe.
func smooth(prev, rtt time.Duration) time.Duration {
	if prev <= 0 {
		return max(rtt, 1)
	}
	return max(time.Duration(float64(prev)*(1-smoothing)+float64(rtt)*smoothing), 1)
}
