package sites

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"ferry/config"
)

// Site is one place a service can be served, as a chooser sees it.
type Site struct {
	Name   string
	Region string
	// Local is this site.
	Local bool
	// URL is a peer router's https://host:port; empty for this site.
	URL string
	// Priority orders the failover cascade, lowest first.
	Priority int
	Weight   int
	// Clients are the ranges the geographic strategy sends here.
	Clients []netip.Prefix
	// Healthy is the site's state after hysteresis.
	Healthy bool
	// Latency is the smoothed probe latency; zero when unknown.
	Latency time.Duration
}

// FromConfig returns this site and its peers in failover order, all
// unhealthy until their health is known.
func FromConfig(c *config.Sites) []Site {
	if c == nil {
		return nil
	}
	out := []Site{{Name: c.Self, Local: true, Priority: max(c.Priority, 1), Weight: max(c.Weight, 1)}}
	for _, p := range c.Peers {
		s := Site{Name: p.Name, Region: p.Region, URL: p.URL, Priority: p.Priority, Weight: p.Weight}
		for _, cl := range p.Clients {
			if pfx, err := netip.ParsePrefix(cl); err == nil {
				s.Clients = append(s.Clients, pfx.Masked())
			}
		}
		out = append(out, s)
	}
	sortFailover(out)
	return out
}

// sortFailover orders sites by priority, this site first among equals,
// then by name, so that the cascade never depends on the order of the
// configuration.
func sortFailover(s []Site) {
	slices.SortStableFunc(s, func(a, b Site) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		if a.Local != b.Local {
			if a.Local {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
}
