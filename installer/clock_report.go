package installer

import "time"

// ClockReport is what `ferry clock show` shows, and its --json form: the
// clock rule's reading and the host's fingerprints.
type ClockReport struct {
	System time.Time `json:"system"`
	// HighWater is the latest time this host has seen, to the second.
	HighWater time.Time `json:"highWater"`
	// JudgedAt is when expiry is judged: the later of the two.
	JudgedAt time.Time `json:"judgedAt"`
	Behind   bool      `json:"behind"`
	// Host is the host's fingerprints (license.Host.Fingerprints).
	Host []string `json:"host"`
}

// NewClockReport is the report of clock c on a host with fingerprints fps.
func NewClockReport(c Clock, fps []string) ClockReport {
	return ClockReport{System: c.System, HighWater: c.HighWater.Truncate(time.Second), JudgedAt: c.Now, Behind: c.Behind, Host: fps}
}
