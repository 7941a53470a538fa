package rollout

import (
	"fmt"
	"math"
	"time"

	"ferry/bundle/spec"
)

// Rules of the fast-fail check. See doc.go.
const (
	// MinErrorsToFastFail is the fewest errors the new version must have
	// served in the window before it is aborted ahead of its analysis:
	// one or two failed requests prove nothing, however few requests
	// there were.
	MinErrorsToFastFail = 3
	// FastFailZ is the one-sided normal quantile of the confidence the
	// fast-fail check asks for: 3.09 is 99.9%. The new version is aborted
	// at once only when the lower end of its error rate's Wilson interval
	// at that confidence is above FastFailFactor times the spec's errorRate.
	FastFailZ = 3.09
	// FastFailFactor is how far above the spec's errorRate the bound must
	// be: a version only a little over its limit is left to the analysis
	// at the end of the interval, which sees more requests.
	FastFailFactor = 2
)

// FastFail judges the new version's sample between analyses: it fails
// when the error rate is so far above the spec's errorRate, with so many
// errors, that no more requests could change the verdict. It needs no
// minRequests and no end of interval; it judges only the error rate, and
// only against an errorRate the spec sets. A Fail verdict aborts the
// rollout at once; anything else (reported as Pass) leaves the step to
// the analysis at its due time.
//
// The test is a one-sided Wilson score bound: with e errors in n requests
// the true error rate is above the bound with 99.9% confidence, and the
// bound must be over twice the errorRate. So 3 errors in 17 requests
// (17.6%) fail against 1% (bound 3.6% > 2%) but not against 5%, 5 in 100
// against 1% wait for the analysis (bound 1.4%), and 2 errors in 10 never
// fail, being under MinErrorsToFastFail.
func FastFail(thresholds *spec.Analysis, canary Sample) Verdict {
	if thresholds == nil || thresholds.ErrorRate <= 0 || canary.Errors < MinErrorsToFastFail || canary.Requests <= 0 {
		return Verdict{Pass, "no critical breach"}
	}
	errs := min(canary.Errors, canary.Requests)
	limit := float64(thresholds.ErrorRate) / 100
	bound := wilsonLower(errs, canary.Requests, FastFailZ)
	if !(bound > FastFailFactor*limit) {
		return Verdict{Pass, fmt.Sprintf("no critical breach: error rate %s could still be under %d× %s (%d/%d)",
			pct(errorRate(canary)), FastFailFactor, pct(limit*100), canary.Errors, canary.Requests)}
	}
	return Verdict{Fail, fmt.Sprintf("critical error rate %s > %s (canary %d/%d: over %s with 99.9%% confidence, more than %d× the limit), without waiting for the analysis",
		pct(errorRate(canary)), pct(limit*100), canary.Errors, canary.Requests, pct(bound*100), FastFailFactor)}
}

// wilsonLower is the lower end of the Wilson score interval of the rate
// of k successes in n trials, for the normal quantile z.
func wilsonLower(k, n int64, z float64) float64 {
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	centre := p + z2/(2*nf)
	margin := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return (centre - margin) / (1 + z2/nf)
}

// fastFail aborts s at once when the tick shows a critical breach; ok is
// false when it does not, and s is then unchanged. When an analysis is due
// and fails, that analysis aborts with its own, fuller reason instead.
func fastFail(s State, t Tick, now time.Time) (State, []Action, bool) {
	if !now.Before(s.NextAnalysis) && Analyze(s.Plan.Analysis, t.Canary, t.Stable).Result == Fail {
		return s, nil, false
	}
	v := FastFail(s.Plan.Analysis, t.Canary)
	if v.Result != Fail {
		return s, nil, false
	}
	s, acts := abortOnAnalysis(s, t, v, now)
	return s, acts, true
}
