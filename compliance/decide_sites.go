package compliance

import "fmt"

// siteSetups states how ferry serve set up its peer sites; false when it
// never did, and the control is then not applicable for the reason why.
func siteSetups(ev *Evidence, f *finder, na string) bool {
	if len(ev.Sites.Setups) == 0 {
		f.na = na
		return false
	}
	last := ev.Sites.Setups[len(ev.Sites.Setups)-1]
	f.examine(last.Time, "ferry serve started %d time(s) with peer sites; the last (audit entry %d): this site %s (priority %s), listening for peers on %s, peers %s, routing services %s",
		len(ev.Sites.Setups), last.Seq, last.Self, last.Priority, last.Listen, last.Peers, orNone(last.Services))
	return true
}

func siteMoves(ev *Evidence, f *finder, kind string) int {
	n := 0
	for _, m := range ev.Sites.Moves {
		if m.Kind != kind {
			continue
		}
		n++
		f.examine(m.Time, "%s of service %s at site %s (audit entry %d): traffic from %s to %s, because %s", m.Kind, m.Service, m.Self, m.Seq, orNone(m.From), m.To, m.Cause)
	}
	return n
}

// decideCP7 decides CP-7 (alternate processing site) from the peer sites
// ferry serve routes to, and the failovers that used them.
func decideCP7(ev *Evidence, f *finder) {
	if !siteSetups(ev, f, "this appliance's site configuration lists no peer sites: ferry serves its services here only") {
		return
	}
	n := siteMoves(ev, f, "failover")
	f.examine(ev.Collected, "the audit log records %d failover(s) of a service's traffic to an alternate site", n)
	f.ok = "peer sites that run the same services are configured, each probed with hysteresis, and traffic moves to the next healthy one when a site is lost; every failover is audited with its cause"
}

// decideCP10 decides CP-10 (system recovery and reconstitution): the
// releases kept for rollback, the rollbacks made, and, across sites, the
// failbacks to a recovered site.
func decideCP10(ev *Evidence, f *finder) {
	if ev.Current == "" {
		f.fail("no release is current")
		return
	}
	f.examine(ev.Collected, "%d release(s) are kept on the appliance, to which ferry rollback returns with the configuration each had; release %s is current", len(ev.Releases), ev.Current)
	for _, r := range ev.Rollbacks {
		f.examine(r.Time, "%s from %s to %s", r.Kind, orNone(r.From), orNone(r.To))
	}
	if len(ev.Sites.Setups) > 0 {
		n := siteMoves(ev, f, "failback")
		f.examine(ev.Collected, "the audit log records %d failback(s) to a site after it passed its health checks again", n)
	}
	f.ok = "releases are kept for rollback to a known state, and with peer sites traffic returns to a recovered site only after it passed its health checks again; each recovery is audited"
}

// decideSC8 decides SC-8 (transmission confidentiality and integrity)
// for the traffic ferry carries between sites.
func decideSC8(ev *Evidence, f *finder) {
	if !siteSetups(ev, f, "ferry carries no traffic between sites on this appliance (no peer sites are configured); the services' own traffic is the organisation's") {
		return
	}
	last := ev.Sites.Setups[len(ev.Sites.Setups)-1]
	if last.Transport == "" {
		f.fail("the last set-up of peer sites does not say how traffic between them is protected")
		return
	}
	f.examine(last.Time, "traffic between sites (forwarded requests and health probes): %s; a peer whose certificate does not chain to the site CA, or does not name the peer, is refused", last.Transport)
	f.ok = fmt.Sprintf("requests and health probes between sites travel over mutual TLS 1.3, each end authenticated by the deployment's own site CA (%s)", last.Transport)
}
