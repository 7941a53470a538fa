package rollout

import (
	"math"
	"strings"
	"testing"
	"time"

	"ferry/bundle/spec"
)

func TestAnalyze(t *testing.T) {
	limits := &spec.Analysis{ErrorRate: 1, LatencyP95: spec.Duration(500 * time.Millisecond), CPU: 80, Memory: 85, MinRequests: 50}
	ms := time.Millisecond
	sample := func(req, errs int64, p95 time.Duration, cpu, mem float64) Sample {
		return Sample{Requests: req, Errors: errs, P95: p95, CPU: cpu, Memory: mem}
	}
	tests := []struct {
		name           string
		limits         *spec.Analysis
		canary, stable Sample
		want           Result
		reason         string // the whole reason, or a part after "…"
	}{
		{"too few requests", limits, sample(49, 49, 9*time.Second, 1, 1), good(1000), Inconclusive,
			"inconclusive: 49 requests < minRequests 50"},
		{"default minRequests", nil, sample(19, 0, 0, 0, 0), good(1000), Inconclusive,
			"inconclusive: 19 requests < minRequests 20"},
		{"exactly minRequests is judged", limits, sample(50, 0, 40*ms, .1, .1), Sample{}, Pass, "…within limits"},
		{"exactly minRequests is judged, and can fail", limits, sample(50, 50, 40*ms, .1, .1), Sample{}, Fail, "…error rate 100% > 1%"},
		{"exactly the default minRequests is judged", nil, sample(20, 0, 0, 0, 0), Sample{}, Pass, "…within limits"},
		{"stable with exactly minRequests is compared", nil, sample(200, 5, 40*ms, .1, .1), sample(20, 0, 40*ms, .1, .1), Fail,
			"error rate 2.5% > stable's 0% + 1% (canary 5/200, stable 0/20)"},
		{"stable one request short of minRequests is not compared", nil, sample(200, 5, 40*ms, .1, .1), sample(19, 0, 40*ms, .1, .1), Pass, "…within limits"},
		{"no data", limits, Sample{}, Sample{}, Inconclusive,
			"inconclusive: 0 requests < minRequests 50"},
		{"error rate over threshold", limits, sample(500, 26, 40*ms, .1, .1), sample(480, 0, 40*ms, .1, .1), Fail,
			"error rate 5.2% > 1% (canary 26/500, stable 0/480)"},
		{"error rate at threshold passes", limits, sample(500, 5, 40*ms, .1, .1), sample(480, 5, 40*ms, .1, .1), Pass, "…within limits"},
		{"p95 over threshold", limits, sample(100, 0, 620*ms, .1, .1), sample(100, 0, 400*ms, .1, .1), Fail,
			"p95 latency 620ms > 500ms (stable 400ms)"},
		{"p95 at threshold passes", limits, sample(100, 0, 500*ms, .1, .1), sample(100, 0, 400*ms, .1, .1), Pass, "…within limits"},
		{"cpu at threshold passes", limits, sample(100, 0, 40*ms, .80, .1), sample(100, 0, 40*ms, .4, .1), Pass, "…within limits"},
		{"memory at threshold passes", limits, sample(100, 0, 40*ms, .1, .85), sample(100, 0, 40*ms, .1, .3), Pass, "…within limits"},
		{"cpu over threshold", limits, sample(100, 0, 40*ms, .91, .1), sample(100, 0, 40*ms, .4, .1), Fail,
			"cpu 91% > 80% (stable 40%)"},
		{"memory over threshold", limits, sample(100, 0, 40*ms, .1, .9), sample(100, 0, 40*ms, .1, .3), Fail,
			"memory 90% > 85% (stable 30%)"},
		{"every breach named", limits, sample(100, 10, 900*ms, .95, .99), good(100), Fail,
			"error rate 10% > 1% (canary 10/100, stable 0/100); p95 latency 900ms > 500ms (stable 40ms); cpu 95% > 80% (stable 5%); memory 99% > 85% (stable 10%)"},
		{"markedly worse error rate than stable", limits, sample(1000, 8, 40*ms, .1, .1), sample(1000, 1, 40*ms, .1, .1), Fail,
			"error rate 0.8% > stable's 0.1% + 0.5% (canary 8/1000, stable 1/1000)"},
		{"worse than stable but too few errors", limits, sample(500, 4, 40*ms, .1, .1), sample(1000, 0, 40*ms, .1, .1), Pass, "…within limits"},
		{"worse than stable without thresholds", nil, sample(200, 5, 40*ms, .1, .1), sample(1000, 10, 40*ms, .1, .1), Fail,
			"error rate 2.5% > stable's 1% + 1% (canary 5/200, stable 10/1000)"},
		{"high errors like stable's pass without thresholds", nil, sample(200, 10, 40*ms, .1, .1), sample(1000, 45, 40*ms, .1, .1), Pass, "…within limits"},
		{"stable without enough traffic is not compared", nil, sample(200, 50, 40*ms, .1, .1), sample(10, 0, 40*ms, .1, .1), Pass, "…within limits"},
		{"p95 twice stable's", nil, sample(100, 0, 250*ms, .1, .1), sample(100, 0, 120*ms, .1, .1), Fail,
			"p95 latency 250ms > 2× stable's 120ms"},
		{"p95 exactly twice stable's passes", nil, sample(100, 0, 240*ms, .1, .1), sample(100, 0, 120*ms, .1, .1), Pass, "…within limits"},
		{"stable without a p95 is not compared on latency", nil, sample(100, 0, 900*ms, .1, .1), sample(100, 0, 0, .1, .1), Pass, "…within limits"},
		{"error rate exactly stable's plus the margin passes", nil, sample(500, 10, 40*ms, .1, .1), sample(1000, 10, 40*ms, .1, .1), Pass, "…within limits"},
		{"p95 at the floor passes, however slower than stable", nil, sample(100, 0, 100*ms, .1, .1), sample(100, 0, 40*ms, .1, .1), Pass, "…within limits"},
		{"pass without stable names the canary's numbers", limits, sample(1000, 2, 120*ms, .12, .3), Sample{}, Pass,
			"within limits: error rate 0.2%, p95 120ms, cpu 12%, memory 30% (canary 2/1000, stable 0/0)"},
		{"p95 twice stable's under the floor", nil, sample(100, 0, 90*ms, .1, .1), sample(100, 0, 20*ms, .1, .1), Pass, "…within limits"},
		{"zero thresholds are unset", &spec.Analysis{}, sample(100, 0, 10*time.Second, 1, 1), Sample{}, Pass, "…within limits"},
		{"pass names the numbers", limits, sample(1000, 2, 120*ms, .12, .3), sample(980, 1, 110*ms, .1, .3), Pass,
			"within limits: error rate 0.2% (stable 0.1%), p95 120ms (stable 110ms), cpu 12%, memory 30% (canary 2/1000, stable 1/980)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Analyze(tt.limits, tt.canary, tt.stable)
			if v.Result != tt.want {
				t.Fatalf("result = %s (%s), want %s", v.Result, v.Reason, tt.want)
			}
			if part, ok := strings.CutPrefix(tt.reason, "…"); ok {
				if !strings.Contains(v.Reason, part) {
					t.Fatalf("reason = %q, want it to contain %q", v.Reason, part)
				}
			} else if v.Reason != tt.reason {
				t.Fatalf("reason =\n  %q\nwant\n  %q", v.Reason, tt.reason)
			}
		})
	}
}

// TestDur: latencies are written rounded to the millisecond, below one
// millisecond to the microsecond.
func TestDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850400 * time.Nanosecond:   "850µs",
		-850400 * time.Nanosecond:  "-850µs",
		1234567 * time.Microsecond: "1.235s",
		620*time.Millisecond + 400: "620ms",
		-1500 * time.Millisecond:   "-1.5s",
		0:                          "0s",
	} {
		if got := dur(d); got != want {
			t.Errorf("dur(%d) = %q, want %q", d, got, want)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add(int64(500), int64(26), int64(40e6), 0.1, 0.2, int64(480), int64(0), int64(30e6), 0.1, 0.2, 1.0, int64(500e6), 80.0, 85.0, 50)
	f.Add(int64(0), int64(0), int64(0), 0.0, 0.0, int64(0), int64(0), int64(0), 0.0, 0.0, 0.0, int64(0), 0.0, 0.0, 0)
	f.Add(int64(-5), int64(9), int64(-1), math.NaN(), math.Inf(1), int64(1<<62), int64(-1), int64(1<<62), -1.0, 2.0, 100.0, int64(1), 0.5, 100.0, -3)
	f.Fuzz(func(t *testing.T, cr, ce, cp int64, cc, cm float64, sr, se, sp int64, sc, sm float64, er float64, p95 int64, cpu, mem float64, minReq int) {
		spec := &spec.Analysis{ErrorRate: spec.Percent(er), LatencyP95: spec.Duration(p95), CPU: spec.Percent(cpu), Memory: spec.Percent(mem), MinRequests: minReq}
		canary := Sample{Requests: cr, Errors: ce, P95: time.Duration(cp), CPU: cc, Memory: cm}
		stable := Sample{Requests: sr, Errors: se, P95: time.Duration(sp), CPU: sc, Memory: sm}
		v := Analyze(spec, canary, stable)
		if v.Reason == "" {
			t.Fatalf("empty reason for %s", v.Result)
		}
		least := int64(minReq)
		if least <= 0 {
			least = DefaultMinRequests
		}
		if (canary.Requests < least) != (v.Result == Inconclusive) {
			t.Fatalf("%d requests against minRequests %d gave %s: %s", canary.Requests, least, v.Result, v.Reason)
		}
		switch v.Result {
		case Pass, Fail, Inconclusive:
		default:
			t.Fatalf("result %q", v.Result)
		}
		if again := Analyze(spec, canary, stable); again != v {
			t.Fatalf("not deterministic: %+v then %+v", v, again)
		}
		if ff := FastFail(spec, canary); ff.Result == Fail && (canary.Errors < MinErrorsToFastFail || !(spec.ErrorRate > 0)) {
			t.Fatalf("fast fail with %d errors against errorRate %v: %s", canary.Errors, spec.ErrorRate, ff.Reason)
		}
	})
}

// TestSampleString: the audit log's line for a sample, cpu and memory in
// percent.
func TestSampleString(t *testing.T) {
	s := Sample{Requests: 1000, Errors: 2, P95: 120 * time.Millisecond, CPU: .125, Memory: .3}
	if got, want := s.String(), "requests=1000 errors=2 p95=120ms cpu=12.5% memory=30.0%"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
