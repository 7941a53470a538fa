package compliance

import (
	"time"

	"ferry/installer/state"
)

// Sites is what the audit log says of routing across sites: how ferry
// serve set it up and every move of a service's traffic between sites.
type Sites struct {
	Setups []SiteSetup `json:"setups,omitempty"`
	Moves  []SiteMove  `json:"moves,omitempty"`
}

// SiteSetup is one ferry serve start with peer sites (sites.configured).
type SiteSetup struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Self      string    `json:"self"`
	Priority  string    `json:"priority,omitempty"`
	Listen    string    `json:"listen,omitempty"`
	Peers     string    `json:"peers"`
	Services  string    `json:"services,omitempty"`
	Transport string    `json:"transport"`
}

// SiteMove is one failover or failback (sites.failover, sites.failback).
type SiteMove struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Service string    `json:"service"`
	Self    string    `json:"self"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Cause   string    `json:"cause"`
}

// Audit events of routing across sites, which ferry serve writes.
const (
	eventSitesConfigured = "sites.configured"
	eventSitesFailover   = "sites.failover"
	eventSitesFailback   = "sites.failback"
)

func collectSites(log []state.AuditEntry) Sites {
	var s Sites
	for _, e := range log {
		f := e.Fields
		switch e.Event {
		case eventSitesConfigured:
			s.Setups = append(s.Setups, SiteSetup{Seq: e.Seq, Time: e.Time.UTC(), Self: f["self"], Priority: f["priority"], Listen: f["listen"],
				Peers: f["peers"], Services: f["services"], Transport: f["transport"]})
		case eventSitesFailover, eventSitesFailback:
			kind := "failover"
			if e.Event == eventSitesFailback {
				kind = "failback"
			}
			s.Moves = append(s.Moves, SiteMove{Seq: e.Seq, Time: e.Time.UTC(), Kind: kind, Service: f["service"], Self: f["self"],
				From: f["from"], To: f["to"], Cause: f["cause"]})
		}
	}
	return s
}
