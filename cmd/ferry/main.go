// Command ferry builds signed appliance bundles on a connected host and
// verifies and installs them on a disconnected one.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"

	"ferry/internal/redact"
)

// defaultMemoryLimit is the soft heap limit when GOMEMLIMIT is not set: the
// streaming design needs little, and appliances are often small, so the
// garbage collector works harder instead of letting the heap double.
const defaultMemoryLimit = 64 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code, so tests can
// call it in-process as well as through the built binary.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 {
		u, err := installerUsage()
		if err != nil {
			fmt.Fprintf(stderr, "ferry: %v\n", err)
			return exitCode(err)
		}
		if u != "" {
			fmt.Fprint(stdout, u)
			return exitOK
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, intersperse(app, args))
	if err != nil {
		// The command's own secrets are scrubbed where they could enter
		// an error; this catches those of the environment anywhere else.
		fmt.Fprintf(stderr, "ferry: %s\n", redact.FromEnviron(os.Environ()).Text(err.Error()))
	}
	return exitCode(err)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "ferry",
		Usage:                "air-gap appliance installer: signed bundles, offline install",
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log progress details to stderr"},
			versionFlag(),
		},
		Action: appAction,
		Before: func(c *cli.Context) error {
			level := slog.LevelWarn
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
			return nil
		},
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return usageError(err.Error())
		},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			keysCommand(),
			bundleCommand(),
			verifyCommand(),
			trustCommand(),
			planCommand(),
			installCommand(),
			rollbackCommand(),
			updateCommand(),
			configCommand(),
			statusCommand(),
			historyCommand(),
			auditCommand(),
			gcCommand(),
			checkCommand(),
			registryCommand(),
			complianceCommand(),
			installerCommand(),
			extractCommand(),
			serveCommand(),
			rolloutCommand(),
			siteCommand(),
			sitesCommand(),
			licenseCommand(),
			fingerprintCommand(),
			clockCommand(),
			versionCommand(),
			initCommand(),
		},
	}
	requireFlags(app.Commands, "")
	return app
}

// usageError marks a command-line mistake (exit code 2).
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}
