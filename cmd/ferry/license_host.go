package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/license"
)

// licenseCommand groups the licence commands: the vendor's (issue,
// inspect) and the operator's (install, show).
func licenseCommand() *cli.Command {
	return &cli.Command{
		Name:  "license",
		Usage: "issue, inspect, install and show offline licences",
		Subcommands: []*cli.Command{
			licenseIssueCommand(),
			licenseInspectCommand(),
			licenseInstallCommand(),
			licenseShowCommand(),
		},
	}
}

func licenseInstallCommand() *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "install or renew the host's licence for its current release",
		ArgsUsage: "FILE",
		Flags:     []cli.Flag{rootFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("license install takes one licence file")
			}
			data, err := readLicenseBytes(c.Args().First())
			if err != nil {
				return err
			}
			d, err := installer.InstallLicense(c.String("root"), data, nil, logger(c))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, d.License)
			}
			fmt.Fprintf(c.App.Writer, "installed licence %s for %s: %s, expires %s\n",
				d.License.ID, d.License.Customer, d.Status.State, d.License.Expires.Format(time.DateOnly))
			return nil
		},
	}
}

func licenseShowCommand() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "show the host's licence, whether updates are allowed, and its history",
		Flags: []cli.Flag{rootFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("license show takes no arguments")
			}
			info, err := installer.ShowLicense(c.String("root"), nil)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, info)
			}
			writeLicenseInfo(c.App.Writer, info, true)
			return nil
		},
	}
}

// writeLicenseInfo prints the licence part of `license show` and `status`.
func writeLicenseInfo(w io.Writer, info *installer.LicenseInfo, history bool) {
	switch {
	case !info.Policy:
		fmt.Fprintln(w, "licence: not used by the current release")
		return
	case info.License == nil && info.Problem == "":
		fmt.Fprintln(w, "licence: none installed (optional for the current release)")
	case info.License == nil:
		fmt.Fprintf(w, "licence: %s\n", info.Problem)
	default:
		l := info.License
		fmt.Fprintf(w, "licence: %s for %s, %s\n", l.ID, l.Customer, info.State)
		fmt.Fprintf(w, "  valid %s to %s, grace %s\n", l.NotBefore.Format(time.DateOnly), l.Expires.Format(time.DateOnly), l.Grace)
		if len(l.Components) > 0 {
			fmt.Fprintf(w, "  components %v\n", l.Components)
		}
		if l.Versions != "" {
			fmt.Fprintf(w, "  versions %s\n", l.Versions)
		}
		if l.Bind != "" {
			fmt.Fprintf(w, "  bound to host %s\n", l.Bind)
		}
		if info.State == license.StateGrace {
			fmt.Fprintf(w, "  WARNING: expired; grace ends in %s: install a renewed licence\n", info.GraceLeft.Round(time.Hour))
		}
	}
	if info.Clock.Behind {
		fmt.Fprintf(w, "  WARNING: the system clock (%s) is behind the latest time this host has seen (%s); expiry is judged by the later\n",
			info.Clock.System.Format(time.RFC3339), info.Clock.HighWater.Format(time.RFC3339))
	}
	if info.UpdatesAllowed {
		fmt.Fprintln(w, "  updates: allowed")
	} else {
		fmt.Fprintf(w, "  updates: REFUSED: %s (running services are not affected)\n", info.Problem)
	}
	if history && len(info.History) > 0 {
		fmt.Fprintln(w, "history:")
		for _, h := range info.History {
			fmt.Fprintf(w, "  %s  %s  issued %s  expires %s\n", h.Installed.Format(time.RFC3339), h.ID, h.Issued.Format(time.DateOnly), h.Expires.Format(time.DateOnly))
		}
	}
}
