package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/installer/state"
	"ferry/license"
)

// clockCommand groups the commands of the time a host judges expiry by:
// the operator's (show, reset, acknowledge) and the vendor's (statement).
func clockCommand() *cli.Command {
	return &cli.Command{
		Name:  "clock",
		Usage: "show, reset and acknowledge the latest time this host has seen",
		Subcommands: []*cli.Command{
			{
				Name: "show", Usage: "the system clock, the latest time this host has seen, and this host's fingerprint",
				ArgsUsage: " ", Flags: []cli.Flag{rootFlag(), jsonFlag()}, Action: clockShow,
			},
			{
				Name:      "reset",
				Usage:     "lower the latest time this host has seen, after its clock ran ahead (audited; AU-8 fails until acknowledged)",
				ArgsUsage: " ",
				Flags: []cli.Flag{rootFlag(),
					&cli.StringFlag{Name: "reason", Usage: "why the clock ran ahead, in `WORDS` an assessor reads (required)"},
					&cli.StringFlag{Name: "statement", Usage: "the vendor's clock reset statement `FILE` (needed when a licence is installed)"},
				},
				Action: clockReset,
			},
			{
				Name:      "acknowledge",
				Usage:     "record that the clock problems recorded so far were looked into (AU-8 then shows them as acknowledged)",
				ArgsUsage: " ",
				Flags: []cli.Flag{rootFlag(),
					&cli.StringFlag{Name: "reason", Usage: "what was found, in `WORDS` an assessor reads (required)"}},
				Action: func(c *cli.Context) error {
					if strings.TrimSpace(c.String("reason")) == "" {
						return usageError("clock acknowledge: say what was found with --reason")
					}
					if err := installer.AcknowledgeClock(c.String("root"), c.String("reason")); err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, "clock problems recorded so far acknowledged")
					return nil
				},
			},
			{
				Name:      "statement",
				Usage:     "sign a clock reset statement for a customer's host with a licence key (on the vendor's host)",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "key", Required: true, Usage: "private licence signing key `FILE`"},
					&cli.StringFlag{Name: "host", Required: true, Usage: "the host's `FINGERPRINT`, as `ferry clock show` prints it there"},
					&cli.StringFlag{Name: "from", Required: true, Usage: "the host's latest time seen, RFC 3339 `TIME` as `ferry clock show` prints it"},
					&cli.StringFlag{Name: "to", Required: true, Usage: "the new latest time seen: the true time, RFC 3339 `TIME`"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the statement `FILE` to write"},
					passphraseFlag(),
				},
				Action: clockStatement,
			},
		},
	}
}

func clockShow(c *cli.Context) error {
	db, err := state.OpenReadOnly(c.String("root"))
	if err != nil {
		return err
	}
	defer db.Close()
	clk, err := installer.ReadClock(db, time.Now())
	if err != nil {
		return err
	}
	fp := license.ReadHost(os.DirFS("/")).Fingerprints()
	out := installer.NewClockReport(clk, fp)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	fmt.Fprintf(c.App.Writer, "system clock:       %s\nlatest time seen:   %s\nexpiry judged at:   %s\nhost:               %s\n",
		out.System.Format(time.RFC3339), out.HighWater.Format(time.RFC3339), out.JudgedAt.Format(time.RFC3339), strings.Join(fp, " "))
	if clk.Behind {
		fmt.Fprintln(c.App.Writer, "the system clock is behind the latest time seen: set it right, or, if the clock ran ahead before, see `ferry clock reset`")
	}
	return nil
}

func clockReset(c *cli.Context) error {
	if strings.TrimSpace(c.String("reason")) == "" {
		return usageError("clock reset: say why the clock ran ahead with --reason")
	}
	var stmt []byte
	if f := c.String("statement"); f != "" {
		var err error
		if stmt, err = readCapped(f, license.MaxClockResetSize, "clock reset statement"); err != nil {
			return err
		}
	}
	res, err := installer.ResetClock(c.String("root"), installer.ClockResetOptions{Reason: c.String("reason"), Statement: stmt, Log: logger(c)})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "latest time seen lowered from %s to %s\n", res.From.Format(time.RFC3339), res.To.Format(time.RFC3339))
	if len(res.SignedBy) > 0 {
		fmt.Fprintf(c.App.Writer, "statement signed by licence key %s\n", strings.Join(res.SignedBy, ", "))
	}
	fmt.Fprintln(c.App.Writer, "the compliance report fails AU-8 until `ferry clock acknowledge`")
	return nil
}

func clockStatement(c *cli.Context) error {
	from, err := parseDateFlag(c, "from")
	if err != nil {
		return err
	}
	to, err := parseDateFlag(c, "to")
	if err != nil {
		return err
	}
	signers, err := loadSigners(c, c.StringSlice("key"))
	if err != nil {
		return err
	}
	data, err := license.IssueClockReset(license.ClockReset{Host: c.String("host"), From: from, To: to}, signers...)
	if err != nil {
		return usageError("%v", err)
	}
	out := c.String("output")
	if err := writeFileAtomic(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "clock reset statement for %s: from %s to %s\nwritten to %s\n", c.String("host"), from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), out)
	return nil
}
