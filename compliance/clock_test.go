package compliance

import (
	"strings"
	"testing"
	"time"

	"ferry/installer"
	"ferry/installer/state"
)

// TestClockResetStaysOpenUntilAcknowledged: lowering the latest time the
// host has seen (after its clock ran ahead) is something an assessor must
// see: AU-8 fails for it, with the operator's reason, until the clock is
// acknowledged; after that it is evidence, not a failure.
func TestClockResetStaysOpenUntilAcknowledged(t *testing.T) {
	root, _, _ := installedRoot(t)
	db, err := state.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	ahead := time.Now().Add(3 * 365 * 24 * time.Hour).UTC()
	if err := db.SetMark("clock-high-water", []byte(ahead.Format(time.RFC3339Nano))); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := installer.ResetClock(root, installer.ClockResetOptions{Reason: "a VM snapshot booted with a clock 3 years ahead"}); err != nil {
		t.Fatal(err)
	}
	_, fs := collect(t, root)
	f := byControl(fs)["au-8"]
	if f.Status != NotSatisfied || !strings.Contains(f.Summary, "reset at audit entry") || !hasEvidence(f, "3 years ahead") {
		t.Fatalf("AU-8 after a reset: %s: %s", f.Status, f.Summary)
	}

	if err := installer.AcknowledgeClock(root, "snapshot clock; NTP now enforced at boot"); err != nil {
		t.Fatal(err)
	}
	_, fs = collect(t, root)
	f = byControl(fs)["au-8"]
	if f.Status != Satisfied || !hasEvidence(f, "acknowledged at entry") || !hasEvidence(f, "NTP now enforced at boot") {
		t.Fatalf("AU-8 after the acknowledgement: %s: %s %+v", f.Status, f.Summary, f.Evidence)
	}
}
