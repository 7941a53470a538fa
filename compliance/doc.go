// Package compliance turns what ferry recorded on an appliance into
// compliance evidence: an assessment against a set of NIST SP 800-53 rev5
// controls, written as OSCAL assessment results, as DISA STIG Viewer
// checklists (CKLB and CKL) for ferry's own application checks, or as
// Markdown for people.
//
// It works in three steps, so that each can be tested and reused alone:
// Collect reads the appliance (read-only) into an Evidence value, Assess
// decides each control from that evidence alone, and Write renders both.
//
// Two rules govern every finding. Nothing is satisfied without evidence
// that ferry recorded or re-checked when the report was made; and what only
// the organisation operating the appliance can show (policies, reviews,
// frequencies, alerting) is said to be the organisation's, never claimed.
//
// Output is deterministic: the same state and the same time give the same
// bytes. Lists are sorted, and the UUIDs OSCAL requires are name-based
// (version 5) over the content they identify.
package compliance
