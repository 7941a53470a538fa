package health

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults for the zero Options.
const (
	DefaultInterval         = 5 * time.Second
	DefaultTimeout          = 3 * time.Second
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 1
)

// Options tune a Checker. Zero values take the defaults above.
type Options struct {
	// Interval is the time between the starts of two checks in Run.
	Interval time.Duration
	// Timeout bounds each check.
	Timeout time.Duration
	// FailureThreshold is how many failures in a row make a healthy
	// backend unhealthy.
	FailureThreshold int
	// SuccessThreshold is how many passes in a row make an unhealthy
	// backend healthy.
	SuccessThreshold int
	// OnChange, if set, is called with the new status each time the
	// backend turns healthy or unhealthy, in order, from the goroutine
	// that ran the deciding check. It may call the Checker's methods but
	// should return quickly: the next check waits for it.
	OnChange func(Status)
}

// Status is what a Checker knows about its backend.
type Status struct {
	Healthy bool
	// Since is when Healthy last changed (or the Checker was made).
	Since time.Time
	// Checks counts the checks run so far.
	Checks int
	// LastCheck is when the last check finished; zero before the first.
	LastCheck time.Time
	// LastErr is the last check's failure; nil if it passed.
	LastErr error
	// Streak is how many checks in a row ended like the last one.
	Streak int
}

// Checker decides whether one backend is healthy. It is safe for
// concurrent use.
type Checker struct {
	probe Probe
	opts  Options

	// checking serialises checks, so results and OnChange calls keep
	// their order.
	checking sync.Mutex

	mu     sync.Mutex
	status Status
}

// NewChecker returns a Checker of probe, unhealthy until it passes
// SuccessThreshold checks in a row.
func NewChecker(probe Probe, opts Options) *Checker {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.FailureThreshold <= 0 {
		opts.FailureThreshold = DefaultFailureThreshold
	}
	if opts.SuccessThreshold <= 0 {
		opts.SuccessThreshold = DefaultSuccessThreshold
	}
	return &Checker{probe: probe, opts: opts, status: Status{Since: time.Now()}}
}

// Run checks the backend at once and then every Interval until ctx is
// done; it then returns nil.
func (c *Checker) Run(ctx context.Context) error {
	ticker := time.NewTicker(c.opts.Interval)
	defer ticker.Stop()
	for {
		_ = c.Once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Once runs one check now, bounded by Timeout, counts it towards the
// thresholds like any other, and returns its result: nil if the backend
// passed. A smoke test after starting a version is a call to Once.
// A check cut short because ctx ended is not counted: it says nothing
// about the backend.
func (c *Checker) Once(ctx context.Context) error {
	c.checking.Lock()
	defer c.checking.Unlock()

	checkCtx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	err := c.probe.Check(checkCtx)
	cancel()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("health check interrupted: %w", ctx.Err())
	}

	changed, st := c.record(err)
	if changed && c.opts.OnChange != nil {
		c.opts.OnChange(st)
	}
	return err
}

// record adds one result to the status and reports whether it flipped.
func (c *Checker) record(err error) (bool, Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.status
	now := time.Now()
	passed := err == nil
	if s.Checks > 0 && passed == (s.LastErr == nil) {
		s.Streak++
	} else {
		s.Streak = 1
	}
	s.Checks++
	s.LastCheck = now
	s.LastErr = err

	changed := false
	switch {
	case !s.Healthy && passed && s.Streak >= c.opts.SuccessThreshold:
		s.Healthy, changed = true, true
	case s.Healthy && !passed && s.Streak >= c.opts.FailureThreshold:
		s.Healthy, changed = false, true
	}
	if changed {
		s.Since = now
	}
	return changed, *s
}

// Healthy reports whether the backend is healthy now.
func (c *Checker) Healthy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status.Healthy
}

// Status returns everything the Checker knows about its backend.
func (c *Checker) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}
