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
		},
	}
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
