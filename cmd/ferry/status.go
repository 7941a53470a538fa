package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/installer/state"
)

// logger is the command's logger on stderr.
func logger(c *cli.Context) *slog.Logger { return slog.Default() }

func statusCommand() *cli.Command {
	return &cli.Command{Name: "status", Usage: "show the current release and the kept ones", Flags: []cli.Flag{rootFlag(), jsonFlag()}, Action: showStatus}
}

func historyCommand() *cli.Command {
	return &cli.Command{Name: "history", Usage: "show the transactions and their steps", Flags: []cli.Flag{rootFlag(), jsonFlag()}, Action: showHistory}
}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:   "audit",
		Usage:  "show the hash-chained audit log",
		Flags:  []cli.Flag{rootFlag(), jsonFlag(), &cli.BoolFlag{Name: "verify", Usage: "check the hash chain, and that state.db holds what it records; fail if either was changed"}},
		Action: showAudit,
	}
}

func showStatus(c *cli.Context) error {
	db, err := state.OpenReadOnly(c.String("root"))
	if err != nil {
		return err
	}
	defer db.Close()
	out, err := installer.ReadStatus(db)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	current := out.Current
	if current == "" {
		fmt.Fprintln(c.App.Writer, "no release installed")
	} else {
		fmt.Fprintf(c.App.Writer, "current %s\n", current)
	}
	if l := out.Last; l != nil && l.State != "committed" {
		fmt.Fprintf(c.App.Writer, "last %s of %s: %s: %s\n", l.Kind, l.Version, l.State, l.Reason)
	}
	if current != "" {
		writeLicenseInfo(c.App.Writer, out.License, false)
	}
	for _, r := range out.Releases {
		fmt.Fprintf(c.App.Writer, "  %-12s %-9s %s  %s  %v\n", r.Version, r.Status, r.Installed.Format(time.RFC3339), r.Digest, r.Components)
		for _, ch := range r.Checks {
			ok := "ok"
			if !ch.OK {
				ok = "FAILED: " + ch.Detail
			}
			fmt.Fprintf(c.App.Writer, "      check %s: %s\n", ch.Name, ok)
		}
	}
	return nil
}

func showHistory(c *cli.Context) error {
	db, err := state.OpenReadOnly(c.String("root"))
	if err != nil {
		return err
	}
	defer db.Close()
	out, err := installer.ReadHistory(db)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	for _, e := range out {
		fmt.Fprintf(c.App.Writer, "%d  %s  %-8s %-10s %s  %s\n", e.ID, e.Started.Format(time.RFC3339), e.Kind, e.State, e.Version, e.Reason)
		for _, s := range e.Steps {
			fmt.Fprintf(c.App.Writer, "      %-8s %s %s\n", s.Phase, s.Name, s.Detail)
		}
	}
	return nil
}

func showAudit(c *cli.Context) error {
	db, err := state.OpenReadOnly(c.String("root"))
	if err != nil {
		return err
	}
	defer db.Close()
	if c.Bool("verify") {
		if err := db.VerifyAudit(); err != nil {
			return err
		}
		if err := installer.VerifyDerived(db); err != nil {
			return err
		}
	}
	log, err := db.AuditLog()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, log)
	}
	for _, e := range log {
		fmt.Fprintf(c.App.Writer, "%5d  %s  %-22s %v\n", e.Seq, e.Time.Format(time.RFC3339), e.Event, e.Fields)
	}
	if c.Bool("verify") {
		fmt.Fprintf(c.App.Writer, "audit chain intact: %d entries; state.db holds the trust, current release and highest version they record\n", len(log))
	}
	return nil
}
