// Package rollout decides how `ferry serve` shifts a service's traffic from
// its stable version to a new one: the blue-green and canary strategies as
// a deterministic state machine. It does no I/O and reads no clock. The
// integrator feeds it events (ticks with metrics, health changes, smoke test
// results, operator commands) with the time, stores the State it returns,
// and carries out the Actions (weights, processes, release rollback, audit
// records) in the order given.
//
// # Driving a rollout
//
//	s, acts, err := rollout.Start(service, "1.4.0", "1.5.0", now)
//	// store s, carry out acts; then for every event:
//	s, acts, err = rollout.Next(s, rollout.Tick{Canary: c, Stable: st}, now)
//
// Store the state before carrying out the actions. After `ferry serve`
// restarts, Restore gives the actions that bring the runtime back in line
// with a stored state; every action names the versions it acts on, so doing
// one twice is harmless (RollbackRelease is a no-op when the current
// release is already its To).
//
// Tick samples cover each version's traffic since State.WindowStart. The
// window moves on after a conclusive analysis and stays while results are
// inconclusive, so a quiet service gathers requests until it can be judged.
//
// # Canary
//
// starting → progressing (step 1 … n) ⇄ waiting-approval → succeeded,
// or aborted from any phase.
//
// The new version starts with no traffic. When it is Healthy it gets the
// first step's share. Each step is held for one interval and then analysed
// (Analyze): a pass leaves the step; an inconclusive result holds the step
// and is analysed again one interval later with the requests gathered
// meanwhile; a failure aborts. Leaving the last step (100) is success: the
// stable version is stopped. So the new version is also watched for one
// interval with all the traffic before the stable one goes.
//
// An approval step N waits, after its analysis passed, in waiting-approval
// until Promote, so traffic never goes past N% without an operator. While
// waiting, the analysis keeps running each interval and a failure still
// aborts. Approval 100 waits before the stable version is stopped.
//
// # Blue-green
//
// starting → smoke → [waiting-approval →] switched → succeeded, or aborted
// from any phase.
//
// Green starts with no traffic. When it is Healthy, RunSmoke runs its smoke
// tests against it directly. When they pass, all traffic switches to green
// at once (after Promote, when the plan has approval [100], the one step of
// blue-green). Blue keeps running for the scale-down delay, during which an
// Abort or an Unhealthy green is an instant rollback (weight 0). At the end
// of the delay blue is stopped. When the spec has an analysis section, green
// must also pass an analysis at the end of the delay (inconclusive keeps
// blue running and is analysed again one interval later; a failure rolls
// back); without one, blue-green does not analyse.
//
// # Abort, pause, resume
//
// Abort applies in every phase until the rollout finished: weight 0 to the
// new version, StopNew, RollbackRelease, phase aborted, the cause recorded.
// Unhealthy from the health checker aborts the same way in every phase
// (the checker's hysteresis and start-up grace decide when a version is
// unhealthy). Pause applies once traffic shifts (progressing,
// waiting-approval, switched): the rollout no longer moves forward (no
// step, no promote, no scale-down), but a failing analysis or an unhealthy
// new version still aborts it, because the thresholds protect users. Resume
// goes on after a full interval (or scale-down delay) from the moment of
// resuming. An event that does not apply returns a *RefusedError
// (errors.Is ErrRefused) saying why, and changes nothing.
//
// # Analysis
//
// Analyze judges the new version's Sample against the spec's thresholds
// and against the stable version's Sample over the same window:
//
//   - Inconclusive when the new version served fewer than minRequests
//     requests (DefaultMinRequests, 20, when unset). It never passes or
//     fails on too little data.
//   - Fail when an absolute threshold the spec sets is exceeded: error rate
//     (errors/requests), p95 latency, CPU and memory (fractions of the
//     machine's CPU and of MemTotal, compared with the spec's percentages).
//     A zero or missing threshold is not checked.
//   - Fail when the new version is markedly worse than stable. This is
//     checked only when stable also served minRequests requests in the
//     window. Error rate: more than half the spec's errorRate over stable's
//     rate (DefaultErrorMargin, 1 percentage point, without an errorRate),
//     with at least MinErrorsToCompare (5) errors. Latency: p95 over
//     LatencyRatio (2) times stable's p95 and over LatencyFloor (100ms).
//     CPU and memory are not compared with stable, since the two versions
//     carry different shares of the traffic.
//   - Pass otherwise.
//
// Between analyses, every Tick also runs FastFail on the new version's
// sample while the analysis watches it (canary steps, waiting for
// approval, paused, blue-green's delay with an analysis): when the spec
// sets an errorRate, the new version has at least MinErrorsToFastFail (3)
// errors in the window, and the lower end of the error rate's one-sided
// Wilson interval at 99.9% (FastFailZ) is above FastFailFactor (2) times
// the errorRate, the rollout aborts at once, without waiting for the end
// of the interval or for minRequests: 3 errors in 17 requests against 1%.
// A few errors in few requests are left to the analysis. An unhealthy new
// version aborts at once too (see Abort, pause, resume).
//
// A failure's reason names each breached metric with its observed value and
// limit, such as "error rate 5.2% > 1% (canary 26/500, stable 0/480)" or
// "p95 latency 250ms > 2× stable's 120ms"; a metric over its absolute limit
// is not compared with stable again.
//
// # Defaults
//
// A service without a rollout spec, or without a strategy, is rolled out
// blue-green (DefaultStrategy): it needs no thresholds. A canary without
// steps uses 10, 25, 50, 100. The interval defaults to 30s
// (DefaultInterval). Blue-green keeps the old version for
// DefaultScaleDownDelay (30s) unless the spec's scaleDownDelay says
// otherwise. A canary
// without an analysis section is analysed with the defaults above: only
// minRequests and the comparison with stable.
package rollout
