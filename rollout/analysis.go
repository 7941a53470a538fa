package rollout

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"ferry/bundle/spec"
)

// Rules of the analysis that the spec does not set. See doc.go.
const (
	// DefaultMinRequests is the fewest requests the new version must have
	// served in the window for its analysis to decide anything.
	DefaultMinRequests = 20
	// DefaultErrorMargin is how many percentage points the new version's
	// error rate may exceed the stable one's when the spec sets no
	// errorRate. With an errorRate, the margin is half of it.
	DefaultErrorMargin = 1.0
	// MinErrorsToCompare is the fewest errors the new version must have for
	// its error rate to be called worse than the stable one's: a couple of
	// errors are noise, not a trend.
	MinErrorsToCompare = 5
	// LatencyRatio is how many times the stable p95 the new version's p95
	// may reach.
	LatencyRatio = 2
	// LatencyFloor is the p95 under which the new version is never called
	// slower than the stable one: 4ms against 2ms is not a regression.
	LatencyFloor = 100 * time.Millisecond
)

// Sample is what the analysis needs of one version over the analysis
// window. The integrator fills it from the router's and supervisor's
// metrics.
type Sample struct {
	// Requests is how many requests the version answered or failed.
	Requests int64 `json:"requests"`
	// Errors counts 5xx answers and connection errors.
	Errors int64 `json:"errors"`
	// P95 is the 95th percentile of request latency.
	P95 time.Duration `json:"p95"`
	// CPU is the version's processes' CPU use as a fraction of the whole
	// machine (0.5 is half of all cores).
	CPU float64 `json:"cpu"`
	// Memory is the version's processes' resident memory as a fraction of
	// MemTotal.
	Memory float64 `json:"memory"`
}

// Result is the outcome of one analysis.
type Result string

const (
	// Pass means enough requests and no threshold breached.
	Pass Result = "pass"
	// Fail means a threshold is breached, or the new version is markedly worse
	// than the stable one.
	Fail Result = "fail"
	// Inconclusive means too few requests to judge. The rollout holds.
	Inconclusive Result = "inconclusive"
)

// Verdict is a Result with the reason an operator reads in the audit log
// and in `ferry rollout status`.
type Verdict struct {
	Result Result `json:"result"`
	Reason string `json:"reason"`
}

// Analyze compares the new version's sample (canary) against the spec's
// thresholds and against the stable version's sample over the same window.
// A nil spec means the defaults alone: no absolute thresholds, only the
// comparison with stable. The rules are in doc.go.
func Analyze(thresholds *spec.Analysis, canary, stable Sample) Verdict {
	var a spec.Analysis
	if thresholds != nil {
		a = *thresholds
	}
	minRequests := int64(a.MinRequests)
	if minRequests <= 0 {
		minRequests = DefaultMinRequests
	}
	if canary.Requests < minRequests {
		return Verdict{Inconclusive, fmt.Sprintf("inconclusive: %d requests < minRequests %d", canary.Requests, minRequests)}
	}

	counts := fmt.Sprintf("canary %d/%d, stable %d/%d", canary.Errors, canary.Requests, stable.Errors, stable.Requests)
	canaryRate, stableRate := errorRate(canary), errorRate(stable)
	// The stable version is compared with only when it had enough traffic
	// of its own over the window: at 100% canary it has none.
	compare := stable.Requests >= minRequests

	var breaches []string
	errorsOver := float64(a.ErrorRate) > 0 && canaryRate > float64(a.ErrorRate)
	if errorsOver {
		breaches = append(breaches, fmt.Sprintf("error rate %s > %s (%s)", pct(canaryRate), pct(float64(a.ErrorRate)), counts))
	}
	latencyOver := a.LatencyP95 > 0 && canary.P95 > time.Duration(a.LatencyP95)
	if latencyOver {
		breaches = append(breaches, fmt.Sprintf("p95 latency %s > %s (stable %s)", dur(canary.P95), dur(time.Duration(a.LatencyP95)), dur(stable.P95)))
	}
	if limit := float64(a.CPU); limit > 0 && canary.CPU*100 > limit {
		breaches = append(breaches, fmt.Sprintf("cpu %s > %s (stable %s)", pct(canary.CPU*100), pct(limit), pct(stable.CPU*100)))
	}
	if limit := float64(a.Memory); limit > 0 && canary.Memory*100 > limit {
		breaches = append(breaches, fmt.Sprintf("memory %s > %s (stable %s)", pct(canary.Memory*100), pct(limit), pct(stable.Memory*100)))
	}
	// A metric already over its absolute limit is not compared again.
	if compare {
		margin := DefaultErrorMargin
		if a.ErrorRate > 0 {
			margin = float64(a.ErrorRate) / 2
		}
		if !errorsOver && canary.Errors >= MinErrorsToCompare && canaryRate > stableRate+margin {
			breaches = append(breaches, fmt.Sprintf("error rate %s > stable's %s + %s (%s)", pct(canaryRate), pct(stableRate), pct(margin), counts))
		}
		if !latencyOver && stable.P95 > 0 && canary.P95 > LatencyRatio*stable.P95 && canary.P95 > LatencyFloor {
			breaches = append(breaches, fmt.Sprintf("p95 latency %s > %d× stable's %s", dur(canary.P95), LatencyRatio, dur(stable.P95)))
		}
	}
	if len(breaches) > 0 {
		return Verdict{Fail, strings.Join(breaches, "; ")}
	}
	summary := fmt.Sprintf("error rate %s, p95 %s, cpu %s, memory %s (%s)",
		pct(canaryRate), dur(canary.P95), pct(canary.CPU*100), pct(canary.Memory*100), counts)
	if compare {
		summary = fmt.Sprintf("error rate %s (stable %s), p95 %s (stable %s), cpu %s, memory %s (%s)",
			pct(canaryRate), pct(stableRate), dur(canary.P95), dur(stable.P95), pct(canary.CPU*100), pct(canary.Memory*100), counts)
	}
	return Verdict{Pass, "within limits: " + summary}
}

// errorRate is the share of failed requests in percent; 0 without requests.
func errorRate(s Sample) float64 {
	if s.Requests <= 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests) * 100
}

// num writes a number with at most two decimals and no trailing zeros.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// pct writes a percentage such as "5.2%".
func pct(v float64) string { return num(v) + "%" }

// dur writes a latency rounded for reading: "620ms", "1.5s", "850µs".
func dur(d time.Duration) string {
	if d < time.Millisecond && d > -time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// String is the sample as the audit log records it, one line that an
// assessor can read and a report can repeat.
func (s Sample) String() string {
	return fmt.Sprintf("requests=%d errors=%d p95=%s cpu=%.1f%% memory=%.1f%%", s.Requests, s.Errors, s.P95, 100*s.CPU, 100*s.Memory)
}
