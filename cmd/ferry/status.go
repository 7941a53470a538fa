package main

import (
	"fmt"
	"log/slog"

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
	return writeReleases(c.App.Writer, out.Releases)
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
	return writeHistory(c.App.Writer, out)
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
	if err := writeAuditLog(c.App.Writer, log); err != nil {
		return err
	}
	if c.Bool("verify") {
		fmt.Fprintf(c.App.Writer, "audit chain intact: %d entries; state.db holds the trust, current release and highest version they record\n", len(log))
	}
	return nil
}
