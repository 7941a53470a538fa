package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/installer/registry"
	"ferry/installer/state"
)

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "remove store content that no kept release references",
		Flags: []cli.Flag{rootFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			res, err := installer.GC(c.String("root"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "removed %d blobs (%s) and %d image names\n", len(res.Removed), humanBytes(res.Freed), len(res.Refs))
			return nil
		},
	}
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "re-hash installed files and store blobs against the signed manifests",
		Flags: []cli.Flag{rootFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			drift, err := installer.Check(c.Context, c.String("root"))
			if err != nil && !errors.Is(err, installer.ErrDrift) {
				return err
			}
			if c.Bool("json") {
				if drift == nil {
					drift = []installer.Drift{}
				}
				_ = writeJSON(c.App.Writer, drift)
				return err
			}
			for _, d := range drift {
				fmt.Fprintf(c.App.Writer, "%-8s %s %s %s\n", d.Kind, d.Release, d.Path, d.Detail)
			}
			if err == nil {
				fmt.Fprintln(c.App.Writer, "all installed content matches the signed manifests")
			}
			return err
		},
	}
}

func registryCommand() *cli.Command {
	return &cli.Command{
		Name:  "registry",
		Usage: "the appliance's OCI registry",
		Subcommands: []*cli.Command{{
			Name:  "serve",
			Usage: "serve the installed images (read-only, OCI distribution API) until interrupted",
			Flags: []cli.Flag{
				rootFlag(),
				&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5000", Usage: "listen `ADDRESS`"},
			},
			Action: serveRegistry,
		}},
	}
}

func serveRegistry(c *cli.Context) error {
	root := c.String("root")
	if _, err := os.Stat(filepath.Join(root, "state.db")); err != nil {
		return fmt.Errorf("%w: %s has no state.db", state.ErrNotARoot, root)
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           registry.Handler(filepath.Join(root, "store"), registry.Options{Logger: logger(c)}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(c.App.Writer, "serving %s on http://%s\n", filepath.Join(root, "store"), ln.Addr())
	go func() {
		<-c.Context.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
