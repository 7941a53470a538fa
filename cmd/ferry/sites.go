package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/rollout/serve"
	"ferry/rollout/sites"
)

// siteCommand is `ferry site cert`: the certificates of the mutual TLS
// between sites.
func siteCommand() *cli.Command {
	return &cli.Command{
		Name:  "site",
		Usage: "certificates for the traffic between sites",
		Subcommands: []*cli.Command{{
			Name:      "cert",
			Usage:     "make the deployment's site CA (once) and a certificate and key for each site named",
			ArgsUsage: "SITE...",
			Flags: []cli.Flag{&cli.StringFlag{Name: "dir", Value: "sites", Usage: "the `DIR` of the site CA and the certificates; " +
				"copy ca.crt, SITE.crt and SITE.key to <root>/" + serve.SitesDir + " on each site, and keep ca.key apart"}},
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return usageError("site cert takes the names of the sites, such as ferry site cert eu-1 eu-2")
				}
				dir := c.String("dir")
				if err := sites.MakeCerts(dir, c.Args().Slice()); err != nil {
					return err
				}
				for _, n := range c.Args().Slice() {
					fmt.Fprintf(c.App.Writer, "%s/%s.crt %s/%s.key\n", dir, n, dir, n)
				}
				return nil
			},
		}},
	}
}

// sitesCommand is `ferry sites status`.
func sitesCommand() *cli.Command {
	return &cli.Command{
		Name:  "sites",
		Usage: "the routing across sites of a running ferry serve",
		Subcommands: []*cli.Command{{
			Name:  "status",
			Usage: "each peer site's state, latency, last change and reason, per service",
			Flags: []cli.Flag{rootFlag(), jsonFlag()},
			Action: func(c *cli.Context) error {
				st, err := serve.NewClient(c.String("root")).Sites(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(c.App.Writer, st)
				}
				if st.Self == "" {
					fmt.Fprintln(c.App.Writer, "this site has no peers (no sites in its configuration)")
					return nil
				}
				t := newTable(c.App.Writer)
				for _, svc := range st.Services {
					fmt.Fprintf(t, "service %s at site %s: %s, traffic to %s (%d failovers, %d failbacks)\n", svc.Service, st.Self, svc.Strategy, orNone(svc.Active), svc.Failovers, svc.Failbacks)
					fmt.Fprintln(t, "SITE\tPRIORITY\tWEIGHT\tSTATE\tLATENCY\tSINCE\tREASON")
					for _, s := range svc.Sites {
						state := "unhealthy"
						if s.Healthy {
							state = "healthy"
						}
						name := s.Name
						if s.Local {
							name += " (this site)"
						}
						lat := "-"
						if s.LatencyMS > 0 {
							lat = fmt.Sprintf("%.1fms", s.LatencyMS)
						}
						fmt.Fprintf(t, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", name, s.Priority, s.Weight, state, lat, s.LastChange.UTC().Format(time.RFC3339), strings.ReplaceAll(s.Reason, "\n", " "))
					}
				}
				return t.Flush()
			},
		}},
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
