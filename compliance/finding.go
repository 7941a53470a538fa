package compliance

import "time"

// Status is the outcome of one control's assessment.
type Status string

// The statuses a finding can have. A finding is satisfied only with
// evidence; not applicable is for what this ferry or this appliance does
// not have, said with the reason.
const (
	Satisfied     Status = "satisfied"
	NotSatisfied  Status = "not-satisfied"
	NotApplicable Status = "not-applicable"
)

// Finding is the assessment of one control from the evidence.
type Finding struct {
	// Control is the OSCAL control id ("si-7.1"), Label how NIST prints
	// it ("SI-7(1)").
	Control   string `json:"control"`
	Label     string `json:"label"`
	Title     string `json:"title"`
	Statement string `json:"statement"`
	// StatementID is the OSCAL id of the statement the finding targets.
	StatementID string `json:"statementId"`
	Status      Status `json:"status"`
	// Summary says in a sentence why the status is what it is.
	Summary string `json:"summary"`
	// Evidence is what the status rests on.
	Evidence []Item `json:"evidence"`
	// Organisation is what only the organisation operating the appliance
	// can show for this control; ferry claims none of it.
	Organisation string `json:"organisation"`
	// Time is when the finding was made: the evidence's collection time.
	Time time.Time `json:"time"`
}

// Item is one piece of evidence, with the time it was recorded or
// observed.
type Item struct {
	Description string    `json:"description"`
	Time        time.Time `json:"time"`
	// Method is how it was obtained: EXAMINE (a record ferry kept) or
	// TEST (re-checked when the report was made), as OSCAL names them.
	Method string `json:"method"`
}

// Evidence methods, in OSCAL's vocabulary.
const (
	Examine = "EXAMINE"
	Test    = "TEST"
)
