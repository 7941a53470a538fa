package installer

import (
	"time"

	"ferry/installer/state"
	"ferry/license"
)

// InstallReport is the --json output of ferry install and ferry update:
// what was installed, and the images pushed to a registry afterwards.
type InstallReport struct {
	Plan *Plan `json:"plan"`
	// NoOp is set when the bundle was already installed and current.
	NoOp bool `json:"noOp"`
	// Stored and Reused count the blobs written to the store and the ones
	// it already had.
	Stored    int                 `json:"stored"`
	Reused    int                 `json:"reused"`
	ReleaseAt string              `json:"releaseAt"`
	Checks    []state.CheckResult `json:"checks"`
	// License is what the licence check decided (absent: no licence used).
	License *LicenseReport `json:"license,omitempty"`
	Images  []string       `json:"images"`
	// Pushed are the images copied to the --push-to registry.
	Pushed []PushedImage `json:"pushed,omitempty"`
}

// LicenseReport is the licence decision of an install in its --json
// output.
type LicenseReport struct {
	License *license.License `json:"license"`
	State   license.State    `json:"state"`
	At      time.Time        `json:"at"`
	// Skipped are the optional components left out because the licence
	// does not entitle them.
	Skipped []string `json:"skipped,omitempty"`
	// Given is set when the licence came with the command rather than
	// from the host.
	Given bool `json:"given"`
}

// PushedImage is one image pushed to a registry after an install.
type PushedImage struct {
	Image  string `json:"image"`  // the name in the store: "wf/api:1.4.0"
	Target string `json:"target"` // the reference pushed
	Digest string `json:"digest"` // of the manifest or index, the same on both sides
	Pushed bool   `json:"pushed"` // false: the registry already had it
}

// NewInstallReport is the report of res and the pushes that followed it.
func NewInstallReport(res *Result, pushed []PushedImage) InstallReport {
	r := InstallReport{
		Plan: res.Plan, NoOp: res.NoOp, Stored: res.Stored, Reused: res.Reused,
		ReleaseAt: res.ReleaseAt, Checks: res.Checks, Images: res.Images, Pushed: pushed,
	}
	if d := res.License; d != nil {
		r.License = &LicenseReport{License: d.License, State: d.Status.State, At: d.Status.At, Skipped: d.Skipped, Given: d.Given}
	}
	return r
}

// PlanReport is the --json output of ferry plan and ferry update plan:
// the plan and, when a root was given, where the host stands against it.
type PlanReport struct {
	*Plan
	Host *HostView `json:"host,omitempty"`
}
