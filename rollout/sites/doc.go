// Package sites decides which site serves a service's request when the
// appliance has peers: this site or the same service at another site's
// router. Which peers exist is site configuration (config.Sites); how to
// choose among them is the service's routing in ferry.yaml
// (spec.Routing).
//
// The choosers (Failover, Weighted, Latency, Geographic) are pure: they
// take the sites as a health monitor sees them and return a choice, so
// that every rule (the cascade by priority, failback, the latency
// tolerance band, client ranges) is tested without a network. A Monitor
// probes each peer through its router with hysteresis (health.Checker:
// `failures` failed checks in a row take a peer out, `successes` good
// ones bring it back), smooths its latency, and reports every change of
// the site that takes the traffic as a Decision with its cause, for the
// audit log.
//
// Traffic between sites is HTTPS with mutual TLS under the deployment's
// own site CA (cert.go); a request forwarded by a peer carries HopHeader
// and is always served where it arrives, so no request loops.
package sites
