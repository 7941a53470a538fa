package sites

import (
	"net/netip"
	"time"
)

// The choosers below take sites in failover order (FromConfig's) and
// return the name of the chosen site, or "" when no site is healthy.

// Failover chooses the first healthy site in failover order: a cascade
// from the preferred site down. With failback off, traffic stays on
// current for as long as it is healthy, even once a preferred site is
// healthy again.
func Failover(sites []Site, current string, failback bool) string {
	if !failback {
		if s, ok := find(sites, current); ok && s.Healthy {
			return current
		}
	}
	for _, s := range sites {
		if s.Healthy {
			return s.Name
		}
	}
	return ""
}

// Weighted chooses among the healthy sites by weight: n, a number drawn
// uniformly by the caller, picks the site whose share holds n modulo the
// sum of the weights. With no weight among the healthy sites it is
// Failover.
func Weighted(sites []Site, n uint64) string {
	var total uint64
	for _, s := range sites {
		if s.Healthy && s.Weight > 0 {
			total += uint64(s.Weight)
		}
	}
	if total == 0 {
		return Failover(sites, "", true)
	}
	n %= total
	for _, s := range sites {
		if !s.Healthy || s.Weight <= 0 {
			continue
		}
		if n < uint64(s.Weight) {
			return s.Name
		}
		n -= uint64(s.Weight)
	}
	return "" // not reached
}

// Latency chooses the healthy site with the lowest smoothed latency, but
// keeps current while it is healthy and no site is faster than it by
// more than tolerance, so that small differences move no traffic. This
// site's latency is zero: no hop. A peer whose latency is not known yet
// is not chosen; with no latency known at all it is Failover.
func Latency(sites []Site, current string, tolerance time.Duration) string {
	best := -1
	for i, s := range sites {
		if !s.Healthy || !latencyKnown(s) {
			continue
		}
		if best < 0 || s.Latency < sites[best].Latency {
			best = i
		}
	}
	if best < 0 {
		return Failover(sites, current, true)
	}
	if cur, ok := find(sites, current); ok && cur.Healthy && latencyKnown(cur) && cur.Latency-sites[best].Latency <= tolerance {
		return current
	}
	return sites[best].Name
}

// Geographic chooses the healthy site whose client ranges hold client,
// the longest range first; when none does (or that site is down) it is
// fallback, the failover choice.
func Geographic(sites []Site, client netip.Addr, fallback string) string {
	if client.IsValid() {
		client = client.Unmap()
		best, bits := "", -1
		for _, s := range sites {
			if !s.Healthy {
				continue
			}
			for _, p := range s.Clients {
				if p.Bits() > bits && p.Contains(client) {
					best, bits = s.Name, p.Bits()
				}
			}
		}
		if best != "" {
			return best
		}
	}
	return fallback
}

// Next returns the site a request goes to when the connection to chosen
// fails: the next healthy site in failover order after chosen, wrapping
// round, or "" when there is none.
func Next(sites []Site, chosen string) string {
	at := -1
	for i, s := range sites {
		if s.Name == chosen {
			at = i
		}
	}
	for k := 1; k < len(sites); k++ {
		s := sites[(at+k+len(sites))%len(sites)]
		if s.Healthy && s.Name != chosen {
			return s.Name
		}
	}
	return ""
}

func find(sites []Site, name string) (Site, bool) {
	for _, s := range sites {
		if s.Name == name {
			return s, true
		}
	}
	return Site{}, false
}

func latencyKnown(s Site) bool { return s.Local || s.Latency > 0 }
