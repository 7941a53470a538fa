package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"ferry/installer/state"
	"ferry/rollout"
	"ferry/rollout/serve"
)

// watchPoll is how often `rollout status --watch` asks ferry serve.
const watchPoll = 500 * time.Millisecond

// watchFlags are `rollout status`'s --watch and --timeout.
func watchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "watch", Usage: "follow the rollouts until they end: redrawn in place on a terminal, a line per change otherwise; exit 0 when promoted, 93 when aborted, 94 at --timeout"},
		&cli.DurationFlag{Name: "timeout", Usage: "with --watch, stop after this long, waiting for ferry serve to start or to take up a release just installed included (default: when the rollouts end)"},
	}
}

// watchRollouts is `ferry rollout status --watch [SERVICE]`: it shows the
// rollouts of a running ferry serve as they move, until none of the
// services watched has a rollout in progress (or --timeout). Started
// before ferry serve runs, or before it has taken up a release just
// installed, it waits for that rather than report what was. On a
// terminal the view (steps, weights, metrics per version, the last
// decision) is redrawn in place; otherwise each change is one appended
// line, for logs and pipes.
func watchRollouts(c *cli.Context) error {
	ctx := c.Context
	if d := c.Duration("timeout"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	only := c.Args().First()
	w := c.App.Writer
	tty := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	root := c.String("root")
	client := serve.NewClient(root)
	seen := map[string]string{}
	serving := true
	for {
		all, err := client.Status(ctx)
		switch {
		case ctx.Err() != nil:
			return watchEnded(ctx, serving)
		case errors.Is(err, serve.ErrNotServing):
			// Started before ferry serve (or while it restarts): wait
			// for it, as --wait does, until --timeout or ctrl-C.
			if serving {
				// A --root that is no appliance would wait forever.
				if _, err := serve.Served(root); errors.Is(err, state.ErrNotARoot) {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, "ferry serve is not running for %s: waiting for it to start\n", root)
			}
			serving = false
			select {
			case <-time.After(watchPoll):
			case <-ctx.Done():
				return watchEnded(ctx, serving)
			}
			continue
		case err != nil:
			return err
		}
		serving = true
		// A release installed a moment ago is taken up at ferry serve's
		// next tick: until then the services show the release before
		// it, and their rollouts (if any) are old ones.
		current := serve.CurrentRelease(root)
		sel, err := selectServices(all, only)
		if err != nil {
			// A service only the current release adds is served once
			// ferry serve takes that release up: wait for it, and
			// refuse the name only when nothing is left to take up.
			if !releasePending(all, current) {
				return err
			}
			if seen[only] != "pending" {
				seen[only] = "pending"
				fmt.Fprintf(c.App.ErrWriter, "no service %q is served yet: waiting for ferry serve to take up release %s\n", only, current)
			}
			select {
			case <-time.After(watchPoll):
			case <-ctx.Done():
				return watchEnded(ctx, serving)
			}
			continue
		}
		if tty {
			var b bytes.Buffer
			fmt.Fprintf(&b, "\x1b[H\x1b[2J%s  (ferry rollout status --watch; ctrl-C stops)\n\n", time.Now().Format(time.TimeOnly))
			for _, s := range sel {
				writeServiceStatus(&b, s, true)
			}
			_, _ = w.Write(b.Bytes())
		}
		running := false
		var aborted []string
		for _, s := range sel {
			r := s.Rollout
			behind := !s.TakenUp(current)
			if key := changeKey(s, behind); key != seen[s.Service] {
				seen[s.Service] = key
				if !tty {
					line := progressLine(s)
					if behind {
						line = fmt.Sprintf("%s: stable %s; release %s is current, ferry serve has not taken it up yet", s.Service, s.Stable, current)
					}
					fmt.Fprintf(w, "%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
				}
			}
			switch {
			case behind:
				running = true
			case r == nil:
			case !r.Phase.Finished():
				running = true
			case r.Phase == rollout.PhaseAborted:
				aborted = append(aborted, s.Service+": "+r.AbortCause)
			}
		}
		if !running {
			if len(aborted) > 0 {
				return fmt.Errorf("%w: %s", serve.ErrRolloutAborted, aborted[0])
			}
			return nil
		}
		select {
		case <-time.After(watchPoll):
		case <-ctx.Done():
			return watchEnded(ctx, serving)
		}
	}
}

// releasePending reports whether ferry serve has yet to take up the
// current release: no service of it is served yet, or one still serves
// the release before it.
func releasePending(all []serve.ServiceStatus, current string) bool {
	if current == "" {
		return false
	}
	if len(all) == 0 {
		return true
	}
	for _, s := range all {
		if !s.TakenUp(current) {
			return true
		}
	}
	return false
}

// watchEnded is the error of a watch stopped before the rollouts ended.
func watchEnded(ctx context.Context, serving bool) error {
	switch {
	case !errors.Is(ctx.Err(), context.DeadlineExceeded):
		return ctx.Err()
	case !serving:
		return fmt.Errorf("%w: ferry serve was not running", serve.ErrWaitTimeout)
	}
	return fmt.Errorf("%w: still in progress at --timeout", serve.ErrWaitTimeout)
}

// changeKey changes whenever a service's rollout moves (step, weight,
// phase, a new decision), and not with its metrics; behind is whether
// the service has yet to take up the current release.
func changeKey(s serve.ServiceStatus, behind bool) string {
	r := s.Rollout
	if behind {
		return "behind " + s.Stable
	}
	if r == nil {
		return "stable " + s.Stable
	}
	key := fmt.Sprintf("%s %s %s %d %d %v", s.Stable, r.New, r.Phase, r.Step, r.NewWeight, r.Paused)
	if d := r.LastDecision; d != nil {
		key += " " + d.Time.String()
	}
	return key
}

// progressLine is one service's rollout on one line, with the metrics of
// each version over the analysis window.
func progressLine(s serve.ServiceStatus) string {
	r := s.Rollout
	if r == nil {
		return fmt.Sprintf("%s: stable %s, no rollout", s.Service, s.Stable)
	}
	line := fmt.Sprintf("%s: %s %s -> %s %s", s.Service, r.Strategy, r.Stable, r.New, r.Phase)
	if r.Paused {
		line += " (paused)"
	}
	line += fmt.Sprintf(", step %d of %d, weights %d%%/%d%%", r.Step, r.Steps, r.StableWeight, r.NewWeight)
	for _, v := range s.Versions {
		if v.Window != nil {
			line += fmt.Sprintf(", %s %d req %d err p95 %s", v.Version, v.Window.Requests, v.Window.Errors, v.Window.P95.Round(time.Millisecond))
		}
	}
	if d := r.LastDecision; d != nil {
		line += fmt.Sprintf("; last decision %s: %s", d.Action, d.Reason)
	}
	if r.Paused || r.Phase == rollout.PhaseWaitingApproval {
		line += "; waiting for " + r.Waiting
	}
	return line
}
