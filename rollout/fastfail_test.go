package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/bundle/spec"
)

func TestFastFail(t *testing.T) {
	limit := func(rate spec.Percent) *spec.Analysis {
		return &spec.Analysis{ErrorRate: rate, MinRequests: 50}
	}
	errs := func(req, e int64) Sample { return Sample{Requests: req, Errors: e} }
	tests := []struct {
		name   string
		limits *spec.Analysis
		canary Sample
		want   Result
		reason string // a part of the reason
	}{
		{"3 errors in 17 against 1% fail at once", limit(1), errs(17, 3), Fail,
			"critical error rate 17.65% > 1% (canary 3/17: over 3.63% with 99.9% confidence, more than 2× the limit), without waiting for the analysis"},
		{"3 errors in 3 against 5% fail", limit(5), errs(3, 3), Fail, "canary 3/3"},
		{"3 errors in 17 against 5% are not certain", limit(5), errs(17, 3), Pass, "could still be under 2× 5%"},
		{"2 errors in 2 are too few errors", limit(1), errs(2, 2), Pass, "no critical breach"},
		{"2 errors in 10 are too few errors", limit(5), errs(10, 2), Pass, "no critical breach"},
		{"5% errors in 100 against 1% wait for the analysis", limit(1), errs(100, 5), Pass, "could still be under 2× 1%"},
		{"12% errors in 100 against 5% wait for the analysis", limit(5), errs(100, 12), Pass, "could still be under 2× 5%"},
		{"25% errors in 100 against 5% fail", limit(5), errs(100, 25), Fail, "critical error rate 25% > 5%"},
		{"40% errors in 100 against 5% fail", limit(5), errs(100, 40), Fail, "critical error rate 40% > 5%"},
		{"many errors a little over the threshold are not far above it", limit(1), errs(100000, 1500), Pass, "could still be under 2× 1%"},
		{"many errors well over the threshold fail", limit(1), errs(100000, 3000), Fail, "canary 3000/100000"},
		{"no errorRate in the spec: nothing to judge", limit(0), errs(17, 17), Pass, "no critical breach"},
		{"no analysis section", nil, errs(17, 17), Pass, "no critical breach"},
		{"no requests", limit(1), errs(0, 5), Pass, "no critical breach"},
		{"more errors than requests count as all failed", limit(1), errs(4, 9), Fail, "canary 9/4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := FastFail(tt.limits, tt.canary)
			if v.Result != tt.want {
				t.Fatalf("result = %s (%s), want %s", v.Result, v.Reason, tt.want)
			}
			if !strings.Contains(v.Reason, tt.reason) {
				t.Fatalf("reason = %q, want it to contain %q", v.Reason, tt.reason)
			}
		})
	}
}

// TestWilsonLower holds the bound to values computed by hand.
func TestWilsonLower(t *testing.T) {
	for _, tt := range []struct {
		k, n int64
		z    float64
		want float64
	}{
		{3, 17, 3.09, 0.0364},
		{0, 10, 3.09, 0},
		{10, 10, 1.96, 0.7225},
		{50, 100, 1.96, 0.4038},
	} {
		if got := wilsonLower(tt.k, tt.n, tt.z); got < tt.want-0.0005 || got > tt.want+0.0005 {
			t.Errorf("wilsonLower(%d, %d, %v) = %.4f, want %.4f", tt.k, tt.n, tt.z, got, tt.want)
		}
	}
}

// TestCanaryFastFail: a critical error rate aborts in the middle of the
// step's interval, below minRequests, without waiting for the analysis.
// A few errors in few requests only hold until the analysis.
func TestCanaryFastFail(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{10, 50, 100}))
	d.send(Healthy{})
	// Two errors in ten requests: not enough errors to be sure.
	if acts := d.tick(time.Second, errsSample(10, 2), good(90)); len(acts) != 0 {
		t.Fatalf("2 errors in 10 requests: %v, want nothing", kinds(acts))
	}
	d.wantPhase(PhaseProgressing)
	acts := d.tick(time.Second, errsSample(17, 3), good(150))
	if got := kinds(acts); !slices.Equal(got, abortKinds()) {
		t.Fatalf("3 errors in 17 requests: actions = %v, want %v", got, abortKinds())
	}
	d.wantPhase(PhaseAborted)
	if !strings.Contains(d.s.AbortCause, "critical error rate 17.65% > 1%") || d.now.Sub(t0) >= interval {
		t.Fatalf("aborted at %v with cause %q", d.now.Sub(t0), d.s.AbortCause)
	}
}

// TestFastFailWhileWaiting: a rollout waiting for approval, or paused, is
// aborted by a critical breach too; a blue-green rollout with an analysis
// during its scale-down delay as well.
func TestFastFailWhileWaiting(t *testing.T) {
	d, _ := startRollout(t, canarySpec([]int{10, 100}, 10))
	d.send(Healthy{})
	d.tick(interval, good(100), good(900))
	d.wantPhase(PhaseWaitingApproval)
	d.tick(time.Second, errsSample(20, 10), good(900))
	d.wantPhase(PhaseAborted)

	d, _ = startRollout(t, canarySpec([]int{10, 100}))
	d.send(Healthy{})
	d.send(Pause{})
	d.tick(time.Second, errsSample(20, 10), good(900))
	d.wantPhase(PhaseAborted)

	bg := blueGreenSpec()
	bg.Analysis = &spec.Analysis{ErrorRate: 1}
	d, _ = startRollout(t, bg)
	d.send(Healthy{})
	d.send(SmokeResult{OK: true})
	d.wantPhase(PhaseSwitched)
	d.tick(time.Second, errsSample(20, 10), Sample{})
	d.wantPhase(PhaseAborted)
}

func errsSample(req, errs int64) Sample {
	s := good(req)
	s.Errors = errs
	return s
}
