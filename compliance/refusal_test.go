package compliance

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ferry/installer"
)

// TestRefusedNotFitting: bundles that do not fit the host (not newer than
// the current release, another bundle of the current version) are
// operators' mistakes. They are listed, and do not fail the supply-chain
// controls that a bundle that is not genuine fails.
func TestRefusedNotFitting(t *testing.T) {
	root, b, key := installedRoot(t)
	dir := filepath.Dir(b.path)
	b2 := buildBundle(t, dir, "1.1.0", key)
	if _, err := installer.Install(context.Background(), b2.path, installer.Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	// 1.0.0 is older than the current 1.1.0.
	if _, err := installer.Install(context.Background(), b.path, installer.Options{Root: root}); !errors.Is(err, installer.ErrNotNewer) {
		t.Fatalf("the older bundle: %v, want ErrNotNewer", err)
	}
	ev, fs := collect(t, root)
	var refused []BundleEvent
	for _, e := range ev.Bundles {
		if e.Refused() {
			refused = append(refused, e)
		}
	}
	if len(refused) != 1 || refused[0].Class != installer.RefusedHost || refused[0].Finding() {
		t.Fatalf("refusals %+v, want one of class host", refused)
	}
	wantStatus(t, fs, Satisfied, "sr-4.3", "sr-11", "si-7.15")
	for _, r := range checkRules(ev) {
		if r.num == 30 && r.status != Satisfied {
			t.Errorf("rule %s is %s after a bundle that did not fit the host", r.version(), r.status)
		}
	}
	sr43 := byControl(fs)["sr-4.3"]
	if !strings.Contains(strings.Join(evidenceTexts(sr43), "\n"), "does not fit this host") {
		t.Errorf("SR-4(3) does not list the refusal as not fitting the host: %+v", sr43)
	}
	// It is no finding to acknowledge.
	if err := installer.AcknowledgeFinding(root, refused[0].Seq, "looked"); !errors.Is(err, installer.ErrNoFinding) {
		t.Errorf("acknowledging a refusal that is no finding: %v, want ErrNoFinding", err)
	}
}

// TestAcknowledgedFinding: a tampered bundle fails SR-4(3) and SR-11 until
// the organisation records its follow-up; the report then shows the
// finding with the acknowledgement, and a later tampered bundle is open
// again.
func TestAcknowledgedFinding(t *testing.T) {
	root, b, key := installedRoot(t)
	b2 := buildBundle(t, filepath.Dir(b.path), "1.1.0", key)
	if _, err := installer.Install(context.Background(), tamper(t, b2), installer.Options{Root: root}); err == nil {
		t.Fatal("a tampered bundle was installed")
	}
	ev, fs := collect(t, root)
	wantStatus(t, fs, NotSatisfied, "sr-4.3", "sr-11")
	var seq uint64
	for _, e := range ev.Bundles {
		if e.Finding() {
			seq = e.Seq
		}
	}
	if seq == 0 {
		t.Fatalf("no integrity finding in %+v", ev.Bundles)
	}
	if err := installer.AcknowledgeFinding(root, seq, "  "); err == nil || errors.Is(err, installer.ErrNoFinding) {
		t.Errorf("an acknowledgement without a reason: %v", err)
	}
	if err := installer.AcknowledgeFinding(root, seq+100, "x"); !errors.Is(err, installer.ErrNoFinding) {
		t.Errorf("an acknowledgement of no entry: %v, want ErrNoFinding", err)
	}
	const reason = "ticket SEC-42: the copy was damaged on the USB stick; the vendor confirmed the digest"
	if err := installer.AcknowledgeFinding(root, seq, reason); err != nil {
		t.Fatal(err)
	}
	if err := installer.AcknowledgeFinding(root, seq, reason); !errors.Is(err, installer.ErrNoFinding) {
		t.Errorf("a second acknowledgement: %v, want ErrNoFinding", err)
	}
	ev, fs = collect(t, root)
	wantStatus(t, fs, Satisfied, "sr-4.3", "sr-11", "au-2")
	found := false
	for _, e := range ev.Bundles {
		if e.Seq == seq {
			found = e.Acknowledged != nil && e.Acknowledged.Reason == reason
		}
	}
	if !found {
		t.Errorf("the refusal does not carry the acknowledgement: %+v", ev.Bundles)
	}
	text := strings.Join(evidenceTexts(byControl(fs)["sr-4.3"]), "\n")
	if !strings.Contains(text, "refused and nothing of it installed (audit entry "+strconv.FormatUint(seq, 10)) || !strings.Contains(text, reason) {
		t.Errorf("SR-4(3) does not show the finding with its acknowledgement:\n%s", text)
	}

	// A later tampered bundle is a new finding.
	if _, err := installer.Install(context.Background(), tamper(t, b2), installer.Options{Root: root}); err == nil {
		t.Fatal("a tampered bundle was installed")
	}
	_, fs = collect(t, root)
	wantStatus(t, fs, NotSatisfied, "sr-4.3", "sr-11")
}

// evidenceTexts are the descriptions of a finding's evidence and its
// summary.
func evidenceTexts(f Finding) []string {
	out := []string{f.Summary}
	for _, it := range f.Evidence {
		out = append(out, it.Description)
	}
	return out
}
