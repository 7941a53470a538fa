package main

import (
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/compliance"
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
		}},
	}
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
	var w io.Writer = c.App.Writer
	out := c.String("output")
	if out == "" {
		return compliance.Write(w, format, ev, findings)
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
