package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// requireFlags makes a missing required flag a usage error (exit 2) of one
// line, naming the command and the flag. urfave/cli would print the
// command's whole help before its own message and exit 1: so the flags'
// Required is turned off here and checked in each command's Before.
func requireFlags(commands []*cli.Command, path string) {
	for _, cmd := range commands {
		name := strings.TrimSpace(path + " " + cmd.Name)
		requireFlags(cmd.Subcommands, name)
		var required []cli.Flag
		for _, f := range cmd.Flags {
			if unrequire(f) {
				required = append(required, f)
			}
		}
		if len(required) == 0 {
			continue
		}
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			for _, f := range required {
				if !isSet(c, f) {
					return usageError("ferry %s: %s is required", name, flagHelp(f))
				}
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	}
}

// unrequire turns off Required on f and reports whether it was on.
func unrequire(f cli.Flag) bool {
	switch f := f.(type) {
	case *cli.StringFlag:
		r := f.Required
		f.Required = false
		return r
	case *cli.StringSliceFlag:
		r := f.Required
		f.Required = false
		return r
	case *cli.IntFlag:
		r := f.Required
		f.Required = false
		return r
	case cli.RequiredFlag:
		if f.IsRequired() {
			panic("requireFlags: a required flag of an unhandled type: " + f.Names()[0])
		}
	}
	return false
}

func isSet(c *cli.Context, f cli.Flag) bool {
	for _, n := range f.Names() {
		if c.IsSet(n) {
			return true
		}
	}
	return false
}

// flagHelp names a flag as a user gives it: --root (or FERRY_ROOT).
func flagHelp(f cli.Flag) string {
	s := "--" + f.Names()[0]
	if e, ok := f.(interface{ GetEnvVars() []string }); ok && len(e.GetEnvVars()) > 0 {
		s += " (or " + strings.Join(e.GetEnvVars(), ", ") + ")"
	}
	return s
}
