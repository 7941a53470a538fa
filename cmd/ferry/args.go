package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// intersperse moves flags given after positional arguments in front of
// them. The command line of ferry reads naturally as
// `ferry verify app.ferry --key release.pub`, but urfave/cli stops parsing
// flags at the first positional argument.
func intersperse(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	commands := app.Commands
	flags := app.Flags
	// Descend through command names, keeping global flags in place.
	for len(rest) > 0 {
		if strings.HasPrefix(rest[0], "-") {
			n := flagTokens(flags, rest)
			out = append(out, rest[:n]...)
			rest = rest[n:]
			continue
		}
		cmd := findCommand(commands, rest[0])
		if cmd == nil {
			break
		}
		out = append(out, rest[0])
		rest = rest[1:]
		commands, flags = cmd.Subcommands, cmd.Flags
	}
	var flagArgs, positional []string
	for len(rest) > 0 {
		if rest[0] == "--" {
			positional = append(positional, rest...)
			break
		}
		if strings.HasPrefix(rest[0], "-") && rest[0] != "-" {
			n := flagTokens(flags, rest)
			flagArgs = append(flagArgs, rest[:n]...)
			rest = rest[n:]
			continue
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	out = append(out, flagArgs...)
	return append(out, positional...)
}

// flagTokens returns how many tokens the flag at rest[0] takes: one for a
// boolean flag or --name=value, two when the value follows.
func flagTokens(flags []cli.Flag, rest []string) int {
	name := strings.TrimLeft(rest[0], "-")
	if strings.Contains(name, "=") {
		return 1
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, isBool := f.(*cli.BoolFlag); isBool || len(rest) < 2 {
				return 1
			}
			return 2
		}
	}
	return 1
}

func findCommand(commands []*cli.Command, name string) *cli.Command {
	for _, c := range commands {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
