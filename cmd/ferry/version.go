package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"ferry/internal/buildinfo"
)

// versionCommand is `ferry version`: which build this is, so that an
// operator can say exactly which ferry verified and installed a bundle.
func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print ferry's version, the commit it was built from and the Go version",
		ArgsUsage: " ",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("version takes no arguments")
			}
			return printVersion(c.App.Writer, c.Bool("json"))
		},
	}
}

// versionFlag is the global --version, the same as `ferry version`. It has
// no -v: that is --verbose.
func versionFlag() cli.Flag {
	return &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
}

// appAction runs when no command is given: --version prints the version;
// otherwise it does what the command-line library does without an action,
// help for the app or for the command named.
func appAction(c *cli.Context) error {
	if c.Bool("version") {
		if c.NArg() > 0 {
			return usageError("--version takes no arguments")
		}
		return printVersion(c.App.Writer, false)
	}
	if c.Args().Present() {
		return cli.ShowCommandHelp(c, c.Args().First())
	}
	return cli.ShowAppHelp(c)
}

// printVersion writes the build information: the version on the first line
// (what the compliance report names), then the commit and the Go release.
func printVersion(w io.Writer, asJSON bool) error {
	in := buildinfo.Read()
	if asJSON {
		return writeJSON(w, in)
	}
	commit := in.Commit
	switch {
	case commit == "":
		commit = "unknown (built without version control information)"
	case in.Modified:
		commit += " (modified: built from a tree with uncommitted changes)"
	}
	_, err := fmt.Fprintf(w, "ferry %s\ncommit  %s\ngo      %s\n", in, commit, in.GoVersion)
	return err
}
