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

	"ferry/rollout"
	"ferry/rollout/serve"
)

// watchPoll is how often `rollout status --watch` asks ferry serve.
const watchPoll = 500 * time.Millisecond

// watchFlags are `rollout status`'s --watch and --timeout.
func watchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "watch", Usage: "follow the rollouts until they end: redrawn in place on a terminal, a line per change otherwise; exit 0 when promoted, 93 when aborted, 94 at --timeout"},
		&cli.DurationFlag{Name: "timeout", Usage: "with --watch, stop after this long (default: when the rollouts end)"},
	}
}

// watchRollouts is `ferry rollout status --watch [SERVICE]`: it shows the
// rollouts of a running ferry serve as they move, until none of the
// services watched has a rollout in progress (or --timeout). On a
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
	client := serve.NewClient(c.String("root"))
	seen := map[string]string{}
	for {
		all, err := client.Status(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return watchEnded(ctx)
			}
			return err
		}
		sel, err := selectServices(all, only)
		if err != nil {
			return err
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
			if key := changeKey(s); key != seen[s.Service] {
				seen[s.Service] = key
				if !tty {
					fmt.Fprintf(w, "%s %s\n", time.Now().UTC().Format(time.RFC3339), progressLine(s))
				}
			}
			switch {
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
			return watchEnded(ctx)
		}
	}
}

// watchEnded is the error of a watch stopped before the rollouts ended.
func watchEnded(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: still in progress at --timeout", serve.ErrWaitTimeout)
	}
	return ctx.Err()
}

// changeKey changes whenever a service's rollout moves (step, weight,
// phase, a new decision), and not with its metrics.
func changeKey(s serve.ServiceStatus) string {
	r := s.Rollout
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
