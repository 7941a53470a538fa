package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/compliance"
	"ferry/installer"
	"ferry/internal/atomicfile"
)

func complianceCommand() *cli.Command {
	return &cli.Command{
		Name:  "compliance",
		Usage: "compliance evidence from what ferry recorded",
		Subcommands: []*cli.Command{{
			Name:  "report",
			Usage: "NIST SP 800-53 findings as OSCAL, DISA STIG checklists (CKLB, CKL) or Markdown",
			Flags: []cli.Flag{
				rootFlag(),
				&cli.StringFlag{Name: "format", Value: "markdown", Usage: "oscal, cklb, ckl or markdown"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (default: standard output)"},
			},
			Action: complianceReport,
		}, {
			Name:      "ack",
			Usage:     "record the organisation's follow-up of a refused bundle the report holds open",
			ArgsUsage: "ENTRY",
			Description: "ENTRY is the audit entry of the refusal, as the report names it. The acknowledgement is\n" +
				"audited; the report then shows the finding with it instead of failing SR-4(3) and SR-11.",
			Flags: []cli.Flag{
				rootFlag(),
				&cli.StringFlag{Name: "reason", Usage: "what the organisation found and did (`TEXT`); assessors read it"},
			},
			Action: complianceAck,
		}},
	}
}

func complianceAck(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("compliance ack takes the audit entry of one refusal")
	}
	seq, err := strconv.ParseUint(c.Args().First(), 10, 64)
	if err != nil || seq == 0 {
		return usageError("compliance ack %q: the audit entry is a number", c.Args().First())
	}
	if strings.TrimSpace(c.String("reason")) == "" {
		return usageError("compliance ack: --reason is required: say what the organisation found and did")
	}
	if err := installer.AcknowledgeFinding(c.String("root"), seq, c.String("reason")); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "acknowledged the finding of audit entry %d\n", seq)
	return nil
}

func complianceReport(c *cli.Context) error {
	format := compliance.Format(c.String("format"))
	switch format {
	case "oscal", "cklb", "ckl", "markdown":
	default:
		return usageError("--format %q: use oscal, cklb, ckl or markdown", format)
	}
	ev, err := compliance.Collect(c.Context, c.String("root"), time.Now().UTC())
	if err != nil {
		return err
	}
	findings := compliance.Assess(ev)
	out := c.String("output")
	if out == "" {
		return compliance.Write(c.App.Writer, format, ev, findings)
	}
	return writeFileAtomicFunc(out, 0o644, func(w io.Writer) error {
		return compliance.Write(w, format, ev, findings)
	})
}

// writeFileAtomicFunc writes a file through a temporary file, fsync and
// rename, so that a crash never leaves it half-written.
func writeFileAtomicFunc(path string, mode os.FileMode, fill func(io.Writer) error) error {
	return atomicfile.Write(path, mode, fill)
}
