package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"ferry/bundle/spec"
	"ferry/config"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/internal/redact"
)

// repeated is a flag given any number of times, each value kept whole:
// a value of --set may hold commas, which urfave's slice flags split.
type repeated []string

func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }
func (r *repeated) String() string     { return strings.Join(*r, " ") }

// configFlags are the flags that give the bundle's variables values.
func configFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "set", Value: &repeated{}, Usage: "give the variable NAME a value, `NAME=VALUE` (repeatable; wins over --values and FERRY_VAR_NAME)"},
		&cli.GenericFlag{Name: "values", Value: &repeated{}, Usage: "a YAML `FILE` of variable values, name: value (repeatable; a later file wins)"},
	}
}

func repeatedFlag(c *cli.Context, name string) []string {
	if r, ok := c.Generic(name).(*repeated); ok && r != nil {
		return *r
	}
	return nil
}

// configInputs are the values the command line gives: --set, --values,
// FERRY_VAR_NAME, and a prompt on the terminal for a required value none
// of them gives (a secret read without echo).
func configInputs(c *cli.Context) *config.Inputs {
	in := &config.Inputs{Set: repeatedFlag(c, "set"), Files: repeatedFlag(c, "values"), Environ: os.Environ()}
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		stdin := bufio.NewReader(os.Stdin)
		in.Prompt = func(v spec.Variable) (string, error) {
			w := c.App.ErrWriter
			desc := ""
			if v.Description != "" {
				desc = " (" + v.Description + ")"
			}
			fmt.Fprintf(w, "%s, %s%s: ", v.Name, v.Type, desc)
			if v.IsSecret() {
				b, err := term.ReadPassword(fd)
				fmt.Fprintln(w) // the newline typed was not echoed
				return string(b), err
			}
			line, err := stdin.ReadString('\n')
			return strings.TrimRight(line, "\r\n"), err
		}
	}
	return in
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "the site configuration: the values of the bundle's variables",
		Subcommands: []*cli.Command{
			{Name: "show", Usage: "the values in force and where each came from (secrets only as set or unset)", Flags: []cli.Flag{rootFlag(), jsonFlag()}, Action: configShow},
			{Name: "history", Usage: "the configuration of each release kept on the host, by revision", Flags: []cli.Flag{rootFlag(), jsonFlag()}, Action: configHistory},
			{Name: "set", Usage: "a new configuration revision of the release in force, applied like an update", ArgsUsage: "NAME=VALUE ...",
				Flags: append([]cli.Flag{rootFlag(), &cli.IntFlag{Name: "keep", Value: 3, Usage: "number of releases, configuration revisions included, to keep for rollback"}},
					append(configFlags()[1:], chartFlags()...)...),
				Action: configSet},
			{Name: "rollback", Usage: "make a kept configuration revision current again (default: the previous one of the release in force)",
				Flags: append([]cli.Flag{rootFlag(), &cli.IntFlag{Name: "to", Usage: "the kept revision `N` to return to"},
					&cli.StringSliceFlag{Name: "db", Usage: "a PostgreSQL database whose migrations go back too when the revision is of another release, `NAME=@FILE`, NAME=DSN, or FERRY_DB_NAME=DSN"}},
					clusterFlags()...),
				Action: configRollback},
		},
	}
}

// configSet makes a new configuration revision: NAME=VALUE arguments (as
// --set), --values files and FERRY_VAR_NAME over the values in force.
func configSet(c *cli.Context) error {
	in := configInputs(c)
	in.Set = c.Args().Slice()
	if len(in.Set) == 0 && len(in.Files) == 0 {
		return usageError("config set takes NAME=VALUE arguments or --values FILE")
	}
	cl, err := clusterOf(c, true)
	if err != nil {
		return err
	}
	res, err := installer.ApplyConfig(c.Context, installer.ConfigOptions{
		Root: c.String("root"), Config: in, Cluster: cl, Keep: c.Int("keep"), Log: logger(c), Secrets: redact.FromEnviron(os.Environ()),
	})
	if err != nil {
		return err
	}
	if res.Release == "" {
		fmt.Fprintln(c.App.Writer, "no value changed: the configuration in force stays")
		return nil
	}
	fmt.Fprintf(c.App.Writer, "configuration revision %d current as %s (changed: %s)\n", res.Config.Revision, res.Release, strings.Join(res.Changed, ", "))
	return nil
}

// configRollback returns to a kept configuration revision.
func configRollback(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("config rollback takes no arguments (use --to N)")
	}
	dsns, err := databaseDSNs(c.StringSlice("db"), os.Environ())
	if err != nil {
		return err
	}
	cl, err := clusterOf(c, false)
	if err != nil {
		return err
	}
	to, err := installer.RollbackConfig(c.Context, c.String("root"), installer.ConfigRollbackOptions{
		To: c.Int("to"), DSNs: dsns, Cluster: cl, Log: logger(c), Secrets: redact.FromEnviron(os.Environ()),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "current %s\n", to)
	return nil
}

func configShow(c *cli.Context) error {
	db, err := state.OpenReadOnly(c.String("root"))
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := installer.ConfigReport(db)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, r)
	}
	return r.WriteText(c.App.Writer)
}

func configHistory(c *cli.Context) error {
	db, err := state.OpenReadOnly(c.String("root"))
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := installer.ConfigHistory(db)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.App.Writer, "no release kept on the host has a configuration")
	}
	for _, r := range list {
		if err := r.WriteText(c.App.Writer); err != nil {
			return err
		}
	}
	return nil
}
