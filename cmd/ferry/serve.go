package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/internal/redact"
	"ferry/internal/sdnotify"
	"ferry/rollout/serve"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the current release's services: supervisor, router, health checks, metrics, and rollouts of new releases",
		Flags: append([]cli.Flag{
			// Not required: --print-unit has a default root.
			&cli.StringFlag{Name: "root", EnvVars: []string{"FERRY_ROOT"}, Usage: "the appliance `DIR` (for --print-unit, default " + defaultUnitRoot + ")"},
			&cli.BoolFlag{Name: "print-unit", Usage: "write the systemd unit that runs ferry serve for --root (as dist/ferry-serve.service) and exit"},
			&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus /metrics on `ADDR` (such as 127.0.0.1:9100)"},
			&cli.StringFlag{Name: "registry-addr", Usage: "also serve the appliance's images (OCI registry, read-only) on `ADDR`"},
			&cli.StringFlag{Name: "registry-tls-cert", Usage: "serve the registry over HTTPS with this certificate `FILE` (see registry cert)"},
			&cli.StringFlag{Name: "registry-tls-key", Usage: "the private key `FILE` of --registry-tls-cert"},
			&cli.DurationFlag{Name: "tick", Value: serve.DefaultTick, Usage: "how often rollouts are analysed and the current release looked at"},
			&cli.DurationFlag{Name: "stop-grace", Value: serve.DefaultStopGrace, Usage: "time between SIGTERM and SIGKILL when a version stops"},
			&cli.DurationFlag{Name: "start-timeout", Value: serve.DefaultStartTimeout, Usage: "abort a rollout whose new version is not healthy within this time"},
		}, limitFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("serve takes no arguments")
			}
			root := c.String("root")
			if c.Bool("print-unit") {
				if root == "" {
					root = defaultUnitRoot
				}
				if err := checkUnitRoot(root); err != nil {
					return err
				}
				_, err := io.WriteString(c.App.Writer, serveUnit(root))
				return err
			}
			if root == "" {
				return usageError("serve needs --root DIR (or FERRY_ROOT)")
			}
			tc, err := tlsFromFlags(c, "registry-tls-cert", "registry-tls-key")
			if err != nil {
				return err
			}
			log := serveLogger(c)
			return serve.Run(c.Context, serve.Options{
				Root: root, MetricsAddr: c.String("metrics-addr"),
				RegistryAddr: c.String("registry-addr"), RegistryTLS: tc, Limits: limitsFrom(c, log),
				Tick: c.Duration("tick"), StopGrace: c.Duration("stop-grace"), StartTimeout: c.Duration("start-timeout"),
				Log: log, Secrets: redact.FromEnviron(os.Environ()),
				ServiceSecrets: installer.SiteSecrets(root),
				Notifier:       sdnotify.FromEnv(os.Getenv, os.Getpid()),
			})
		},
	}
}

// serveLogger logs ferry serve's decisions at info level: it is a
// long-running service whose log is its record for people.
func serveLogger(c *cli.Context) *slog.Logger {
	if c.Bool("verbose") {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func rolloutCommand() *cli.Command {
	verb := func(name, usage string) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: "SERVICE", Flags: []cli.Flag{rootFlag(), jsonFlag()},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usageError("rollout %s takes one service name", name)
				}
				st, err := serve.NewClient(c.String("root")).Command(c.Context, c.Args().First(), name)
				if err != nil {
					return err
				}
				return writeRolloutStatus(c, st, c.Args().First(), true)
			},
		}
	}
	return &cli.Command{
		Name:  "rollout",
		Usage: "watch and steer the rollouts of a running ferry serve",
		Subcommands: []*cli.Command{
			{
				Name: "status", Usage: "step, weights, live metrics per version and the last decision", ArgsUsage: "[SERVICE]",
				Flags: append([]cli.Flag{rootFlag(), jsonFlag()}, watchFlags()...),
				Action: func(c *cli.Context) error {
					if c.NArg() > 1 {
						return usageError("rollout status takes at most one service name")
					}
					if c.Bool("watch") {
						if c.Bool("json") {
							return usageError("rollout status --watch has no --json form: poll rollout status --json instead")
						}
						return watchRollouts(c)
					}
					st, err := serve.NewClient(c.String("root")).Status(c.Context)
					if err == nil {
						return writeRolloutStatus(c, st, c.Args().First(), true)
					}
					// Not serving: what was saved.
					saved, serr := serve.SavedRollouts(c.String("root"))
					if serr != nil {
						return err
					}
					var out []serve.ServiceStatus
					for _, s := range saved {
						rs := s.Status()
						out = append(out, serve.ServiceStatus{Service: s.Service, Rollout: &rs})
					}
					if !c.Bool("json") {
						fmt.Fprintln(c.App.Writer, "ferry serve is not running; the saved rollouts:")
					}
					return writeRolloutStatus(c, out, c.Args().First(), false)
				},
			},
			verb("promote", "let a rollout waiting for approval go on"),
			verb("abort", "send all traffic back to the stable version and roll the release back"),
			verb("pause", "hold a rollout at its step (a failing analysis still aborts it)"),
			verb("resume", "go on with a paused rollout"),
		},
	}
}

// selectServices keeps the status of service only, or of every service
// when only is empty; a named service that is not there is an error.
func selectServices(all []serve.ServiceStatus, only string) ([]serve.ServiceStatus, error) {
	var sel []serve.ServiceStatus
	for _, s := range all {
		if only == "" || s.Service == only {
			sel = append(sel, s)
		}
	}
	if only != "" && len(sel) == 0 {
		return nil, fmt.Errorf("no service %q", only)
	}
	return sel, nil
}

func writeRolloutStatus(c *cli.Context, all []serve.ServiceStatus, only string, live bool) error {
	sel, err := selectServices(all, only)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, sel)
	}
	for _, s := range sel {
		writeServiceStatus(c.App.Writer, s, live)
	}
	return nil
}

func writeServiceStatus(w io.Writer, s serve.ServiceStatus, live bool) {
	fmt.Fprintf(w, "%s", s.Service)
	if s.Listen != "" {
		fmt.Fprintf(w, " on %s", s.Listen)
	}
	if s.Stable != "" {
		fmt.Fprintf(w, ", stable %s", s.Stable)
	}
	fmt.Fprintln(w)
	if r := s.Rollout; r != nil {
		fmt.Fprintf(w, "  rollout %s -> %s (%s): %s", r.Stable, r.New, r.Strategy, r.Phase)
		if r.Paused {
			fmt.Fprint(w, ", paused")
		}
		fmt.Fprintf(w, ", step %d of %d, weights %s %d%% / %s %d%%\n", r.Step, r.Steps, r.Stable, r.StableWeight, r.New, r.NewWeight)
		if r.Waiting != "" {
			fmt.Fprintf(w, "  waiting: %s\n", r.Waiting)
		}
		if d := r.LastDecision; d != nil {
			fmt.Fprintf(w, "  last decision %s at %s: %s\n", d.Action, d.Time.Format(time.RFC3339), d.Reason)
		}
		if r.AbortCause != "" {
			fmt.Fprintf(w, "  aborted: %s\n", r.AbortCause)
		}
	}
	if !live {
		return
	}
	for _, v := range s.Versions {
		health := "healthy"
		if !v.Healthy {
			health = "NOT HEALTHY"
		}
		fmt.Fprintf(w, "  %-10s %-8s %-11s %s  requests %d, errors %d, p50 %s p95 %s p99 %s, cpu %.1f%%, rss %s, restarts %d\n",
			v.Version, v.State, health, v.Addr, v.Requests, v.Errors, v.P50, v.P95, v.P99, v.CPU, mib(v.RSS), v.Restarts)
		if v.Window != nil {
			fmt.Fprintf(w, "  %-10s window: %d requests, %d errors, p95 %s\n", "", v.Window.Requests, v.Window.Errors, v.Window.P95)
		}
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
