package serve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"ferry/rollout"
)

// Errors of WaitRelease, which cmd/ferry maps to their exit codes.
var (
	// ErrRolloutAborted: the rollout of the release was aborted, all
	// traffic went back to the stable version and the release was rolled
	// back.
	ErrRolloutAborted = errors.New("the rollout was aborted")
	// ErrWaitTimeout: the rollout had not ended when the wait's time was
	// up (or ferry serve never answered).
	ErrWaitTimeout = errors.New("timed out waiting for the rollout")
)

// waitPoll is how often WaitRelease asks ferry serve how things stand.
const waitPoll = 200 * time.Millisecond

// Wait says which rollout WaitRelease waits for.
type Wait struct {
	// Version is the release an install or update made current.
	Version string
	// Services are the release's services; WaitRelease waits until each
	// serves Version, or one's rollout to it is aborted.
	Services []string
	// Since is when the install began: an aborted rollout to Version that
	// started before it is an earlier attempt, not this one's outcome.
	Since time.Time
	// Timeout bounds the wait; 0 waits until ctx ends.
	Timeout time.Duration
	// NotServing, when set, is called once each time ferry serve is
	// found not running (at the start, or after it stopped).
	NotServing func()
	// Progress, when set, is called with the status each time a
	// service's rollout moves (a new decision, phase or weight).
	Progress func(ServiceStatus)
}

// Outcome is how one service's part of the release ended.
type Outcome struct {
	Service string `json:"service"`
	// Result is "promoted" (the rollout to Version succeeded), "started"
	// (Version runs with no rollout: a first install, or a service
	// without a router), "aborted", or "pending" when the wait timed out.
	Result string `json:"result"`
	// Rollout is the service's last rollout status, when it had one.
	Rollout *rollout.Status `json:"rollout,omitempty"`
}

// WaitResult is what WaitRelease found.
type WaitResult struct {
	Version  string    `json:"version"`
	Services []Outcome `json:"services"`
	// Current is the appliance's current release at the end: Version
	// when promoted, the stable one after an abort rolled it back.
	Current string `json:"current"`
}

// WaitRelease waits, through the control socket of the ferry serve of the
// appliance at root, for the rollout that w.Version started: nil when
// every service of the release serves it, an error wrapping
// ErrRolloutAborted when a rollout to it was aborted (after the release
// was rolled back, as long as w.Timeout lets it be seen), and one
// wrapping ErrWaitTimeout when time is up first, ferry serve not running
// included. The result is filled in every case.
func WaitRelease(ctx context.Context, root string, w Wait) (*WaitResult, error) {
	if w.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.Timeout)
		defer cancel()
	}
	c := NewClient(root)
	res := &WaitResult{Version: w.Version}
	seen := map[string]string{}
	serving := true
	var aborted *Outcome
	for {
		st, err := c.Status(ctx)
		switch {
		case errors.Is(err, ErrNotServing):
			if serving && w.NotServing != nil {
				w.NotServing()
			}
			serving = false
		case err == nil:
			serving = true
			res.Services = judge(st, w)
			if w.Progress != nil {
				for _, s := range st {
					if key := progressKey(s); slices.Contains(w.Services, s.Service) && key != seen[s.Service] {
						seen[s.Service] = key
						w.Progress(s)
					}
				}
			}
			aborted = nil
			done := true
			for i, o := range res.Services {
				switch o.Result {
				case "aborted":
					aborted = &res.Services[i]
				case "pending":
					done = false
				}
			}
			res.Current = currentLink(root)
			switch {
			case aborted != nil && res.Current != w.Version:
				return res, abortError(*aborted)
			case aborted == nil && done:
				return res, nil
			}
		}
		select {
		case <-time.After(waitPoll):
		case <-ctx.Done():
			res.Current = currentLink(root)
			if aborted != nil {
				return res, fmt.Errorf("%w (the release rollback from %s had not happened yet)", abortError(*aborted), w.Version)
			}
			if ctx.Err() == context.DeadlineExceeded {
				if !serving {
					return res, fmt.Errorf("%w: ferry serve is not running for %s (the rollout of %s runs when it starts)", ErrWaitTimeout, root, w.Version)
				}
				return res, fmt.Errorf("%w of %s after %v: %s", ErrWaitTimeout, w.Version, w.Timeout, pending(res.Services))
			}
			return res, ctx.Err()
		}
	}
}

// judge says where each service of the release stands.
func judge(st []ServiceStatus, w Wait) []Outcome {
	out := make([]Outcome, 0, len(w.Services))
	for _, name := range w.Services {
		o := Outcome{Service: name, Result: "pending"}
		i := slices.IndexFunc(st, func(s ServiceStatus) bool { return s.Service == name })
		if i >= 0 {
			s := st[i]
			r := s.Rollout
			ours := r != nil && r.New == w.Version && (!r.Phase.Finished() || !r.Started.Before(w.Since))
			if ours {
				o.Rollout = r
			}
			switch {
			case ours && r.Phase == rollout.PhaseAborted:
				o.Result = "aborted"
			case ours && r.Phase == rollout.PhaseSucceeded && s.Stable == w.Version:
				o.Result = "promoted"
			case ours:
			case s.Stable == w.Version:
				o.Result = "started"
			}
		}
		out = append(out, o)
	}
	return out
}

// progressKey changes whenever a service's rollout moves.
func progressKey(s ServiceStatus) string {
	r := s.Rollout
	if r == nil {
		return "stable " + s.Stable
	}
	key := fmt.Sprintf("%s %s %s %d %v", s.Stable, r.New, r.Phase, r.NewWeight, r.Paused)
	if d := r.LastDecision; d != nil {
		key += " " + d.Time.String()
	}
	return key
}

func abortError(o Outcome) error {
	cause := "no cause recorded"
	if o.Rollout != nil && o.Rollout.AbortCause != "" {
		cause = o.Rollout.AbortCause
	}
	return fmt.Errorf("%w: %s: %s", ErrRolloutAborted, o.Service, cause)
}

// pending names the services still waited for and where they stand.
func pending(out []Outcome) string {
	var parts []string
	for _, o := range out {
		if o.Result != "pending" {
			continue
		}
		where := "not rolled out yet"
		if r := o.Rollout; r != nil {
			where = fmt.Sprintf("%s at step %d of %d (%d%%)", r.Phase, r.Step, r.Steps, r.NewWeight)
			if r.Waiting != "" {
				where += ", waiting for " + r.Waiting
			}
		}
		parts = append(parts, o.Service+" "+where)
	}
	return strings.Join(parts, "; ")
}

// CurrentRelease is the version of the appliance's current release, as
// its `current` link names it: "" when nothing is installed.
func CurrentRelease(root string) string { return currentLink(root) }

// TakenUp reports whether the service has taken up release version: it
// serves it as its stable version, or has a rollout to it (finished or
// not). ferry serve looks at the current release every tick, so a release
// just installed is not taken up yet, and the status still shows the
// service as it was before.
func (s ServiceStatus) TakenUp(version string) bool {
	return version == "" || s.Stable == version || s.Rollout != nil && s.Rollout.New == version
}
