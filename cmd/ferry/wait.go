package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/rollout/serve"
)

// defaultWaitTimeout bounds `--wait` when --timeout is not given: long
// enough for a canary of several steps at the default interval, short
// enough that a script does not hang on a rollout waiting for approval.
const defaultWaitTimeout = 30 * time.Minute

// waitFlags are install's and update apply's --wait and --timeout.
func waitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "wait", Usage: "wait for the rollout ferry serve runs of the installed release; exit 0 when promoted, 93 when aborted and rolled back, 94 on timeout"},
		&cli.DurationFlag{Name: "timeout", Value: defaultWaitTimeout, Usage: "with --wait, how long to wait (ferry serve not running included)"},
	}
}

// afterInstall follows an install or update up to ferry serve. With
// --wait it waits for the release's rollout and returns its outcome
// (errors wrapping serve.ErrRolloutAborted or serve.ErrWaitTimeout).
// Without, it warns when ferry serve, which ran the appliance's services
// before, is not running: the rollout then runs when it starts.
func afterInstall(c *cli.Context, res *installer.Result, since time.Time) (*serve.WaitResult, error) {
	if res == nil || res.Plan == nil {
		// A reinstall of the current bundle (no plan): nothing new
		// to roll out or wait for.
		return nil, nil
	}
	root, version := c.String("root"), res.Plan.Version
	var services []string
	for _, r := range res.Plan.Services {
		services = append(services, r.Service)
	}
	stderr := c.App.ErrWriter
	if !c.Bool("wait") {
		if len(services) > 0 && !res.NoOp && !serveAnswers(c, root) {
			served, err := serve.Served(root)
			for _, s := range services {
				if v := served[s]; err == nil && v != "" && v != version {
					fmt.Fprintf(stderr, "warning: ferry serve is not running for %s: the rollout of %s (from %s, as each service's rollout: says) runs when it starts\n", root, version, v)
					break
				}
			}
		}
		return nil, nil
	}
	if len(services) == 0 {
		fmt.Fprintf(stderr, "--wait: release %s has no services: nothing to roll out\n", version)
		return &serve.WaitResult{Version: version, Services: []serve.Outcome{}}, nil
	}
	timeout := c.Duration("timeout")
	fmt.Fprintf(stderr, "waiting up to %v for ferry serve to roll out %s\n", timeout, version)
	out, err := serve.WaitRelease(c.Context, root, serve.Wait{
		Version: version, Services: services, Since: since, Timeout: timeout,
		NotServing: func() {
			fmt.Fprintf(stderr, "ferry serve is not running for %s: waiting for it to start and roll out %s\n", root, version)
		},
		Progress: func(s serve.ServiceStatus) {
			if r := s.Rollout; r != nil && r.New == version {
				fmt.Fprintf(stderr, "%s: %s %s -> %s: %s, step %d of %d, %s %d%%\n", s.Service, r.Strategy, r.Stable, r.New, r.Phase, r.Step, r.Steps, r.New, r.NewWeight)
			}
		},
	})
	if !c.Bool("json") {
		for _, o := range out.Services {
			fmt.Fprintf(c.App.Writer, "%s: %s", o.Service, o.Result)
			// The cause of the abort the exit message names is said
			// there, once.
			if r := o.Rollout; r != nil && r.AbortCause != "" && (err == nil || !strings.Contains(err.Error(), r.AbortCause)) {
				fmt.Fprintf(c.App.Writer, ": %s", r.AbortCause)
			}
			fmt.Fprintln(c.App.Writer)
		}
		if out.Current != "" {
			fmt.Fprintf(c.App.Writer, "current %s\n", out.Current)
		}
	}
	return out, err
}

// serveAnswers reports whether a ferry serve answers for root.
func serveAnswers(c *cli.Context, root string) bool {
	_, err := serve.NewClient(root).Status(c.Context)
	return err == nil
}
