package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/installer/registry"
	"ferry/installer/state"
	"ferry/internal/netlimit"
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
		Usage: "re-hash installed files and store blobs against the signed manifests (and, given a cluster, compare the charts)",
		Flags: append([]cli.Flag{rootFlag(), jsonFlag()}, clusterFlags()...),
		Action: func(c *cli.Context) error {
			drift, err := installer.Check(c.Context, c.String("root"))
			if err != nil && !errors.Is(err, installer.ErrDrift) {
				return err
			}
			if drift, err = withCharts(c, drift, err); err != nil && !errors.Is(err, installer.ErrDrift) {
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
			Flags: append([]cli.Flag{
				rootFlag(),
				&cli.StringFlag{Name: "addr", Value: "127.0.0.1:5000", Usage: "listen `ADDRESS`"},
				&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate `FILE` (PEM; see registry cert)"},
				&cli.StringFlag{Name: "tls-key", Usage: "the private key `FILE` of --tls-cert (PEM)"},
			}, limitFlags()...),
			Action: serveRegistry,
		}, {
			Name:  "cert",
			Usage: "make a CA and a certificate for the registry's HTTPS (ca.crt goes to every node)",
			Description: "Writes DIR/ca.crt and DIR/ca.key (kept when DIR has them, so renewing needs\n" +
				"nothing new on the nodes), DIR/registry.crt and DIR/registry.key for --tls-cert and --tls-key.",
			Flags: []cli.Flag{
				&cli.StringSliceFlag{Name: "host", Usage: "a DNS `NAME` nodes use to reach the registry (repeat for several)"},
				&cli.StringSliceFlag{Name: "ip", Usage: "an IP `ADDRESS` nodes use to reach the registry (repeat for several)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the `DIR` to write to"},
				&cli.DurationFlag{Name: "valid", Value: registry.DefaultCertValidity, Usage: "how long the registry certificate is valid"},
			},
			Action: registryCert,
		}, {
			Name:  "mirror",
			Usage: "print the containerd hosts.toml that makes nodes pull an upstream registry's images from the appliance's registry first",
			Description: "For images created at run time under their usual names, which no chart rewrite reaches.\n" +
				"Write it to /etc/containerd/certs.d/UPSTREAM/hosts.toml on every node (containerd 1.7 or later,\n" +
				"with the CRI plugin's config_path = \"/etc/containerd/certs.d\").",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "registry", Required: true, Usage: "the appliance registry's `HOST:PORT`, as the nodes reach it"},
				&cli.StringFlag{Name: "upstream", Value: "docker.io", Usage: "the registry `HOST` whose images the appliance serves"},
				&cli.StringFlag{Name: "ca", Usage: "the `PATH` of the registry's ca.crt on the nodes (ferry registry cert)"},
				&cli.BoolFlag{Name: "plain-http", Usage: "the registry serves plain HTTP (no --tls-cert)"},
			},
			Action: func(c *cli.Context) error {
				out, err := registry.ContainerdHosts(c.String("upstream"), c.String("registry"), c.String("ca"), c.Bool("plain-http"))
				if err != nil {
					return usageError("%v", err)
				}
				_, err = io.WriteString(c.App.Writer, out)
				return err
			},
		}},
	}
}

// limitFlags bound the clients of ferry's network surfaces (netlimit).
func limitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "max-conns", Value: netlimit.DefaultMaxConns, Usage: "connections served at once per listener; more wait"},
		&cli.DurationFlag{Name: "header-timeout", Value: netlimit.DefaultHeaderTimeout, Usage: "time a client has to send a request's headers"},
		&cli.DurationFlag{Name: "idle-timeout", Value: netlimit.DefaultIdleTimeout, Usage: "close a kept-alive connection idle for this long"},
	}
}

func limitsFrom(c *cli.Context, log *slog.Logger) netlimit.Limits {
	return netlimit.Limits{MaxConns: c.Int("max-conns"), HeaderTimeout: c.Duration("header-timeout"),
		IdleTimeout: c.Duration("idle-timeout"), Log: log}
}

// tlsFromFlags reads a certificate and key flag pair: both or neither.
func tlsFromFlags(c *cli.Context, certFlag, keyFlag string) (*tls.Config, error) {
	cert, key := c.String(certFlag), c.String(keyFlag)
	if cert == "" && key == "" {
		return nil, nil
	}
	if cert == "" || key == "" {
		return nil, usageError("--%s and --%s go together", certFlag, keyFlag)
	}
	return registry.TLSConfig(cert, key)
}

func serveRegistry(c *cli.Context) error {
	root := c.String("root")
	if _, err := os.Stat(filepath.Join(root, "state.db")); err != nil {
		return fmt.Errorf("%w: %s has no state.db", state.ErrNotARoot, root)
	}
	tc, err := tlsFromFlags(c, "tls-cert", "tls-key")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return err
	}
	h := registry.Handler(filepath.Join(root, "store"), registry.Options{Logger: logger(c)})
	srv, l := netlimit.New(ln, h, limitsFrom(c, logger(c)))
	scheme := "http"
	if tc != nil {
		srv.TLSConfig, scheme = tc, "https"
	}
	fmt.Fprintf(c.App.Writer, "serving %s on %s://%s\n", filepath.Join(root, "store"), scheme, ln.Addr())
	go func() {
		<-c.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if tc != nil {
		err = srv.ServeTLS(l, "", "")
	} else {
		err = srv.Serve(l)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func registryCert(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("registry cert takes no arguments")
	}
	var ips []net.IP
	for _, s := range c.StringSlice("ip") {
		ip := net.ParseIP(s)
		if ip == nil {
			return usageError("--ip %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	if len(ips) == 0 && len(c.StringSlice("host")) == 0 {
		return usageError("give the registry's --host NAME or --ip ADDRESS, as nodes reach it")
	}
	res, err := registry.WriteCertificates(c.String("output"), registry.CertOptions{
		Hosts: c.StringSlice("host"), IPs: ips, Validity: c.Duration("valid")})
	if err != nil {
		return err
	}
	w := c.App.Writer
	dir := res.Dir
	if res.NewCA {
		fmt.Fprintf(w, "made a CA: %s (keep %s off the network)\n", filepath.Join(dir, registry.CAFile), filepath.Join(dir, registry.CAKey))
	} else {
		fmt.Fprintf(w, "signed with the CA already in %s\n", dir)
	}
	fmt.Fprintf(w, "CA SHA-256 fingerprint %s\n", res.CAFingerprint)
	fmt.Fprintf(w, "wrote %s and %s, valid until %s\n", filepath.Join(dir, registry.CertFile), filepath.Join(dir, registry.KeyFile), res.NotAfter.Format(time.DateOnly))
	fmt.Fprintf(w, "serve with: ferry registry serve --tls-cert %s --tls-key %s\n", filepath.Join(dir, registry.CertFile), filepath.Join(dir, registry.KeyFile))
	fmt.Fprintf(w, "on each node, as %s for the registry's HOST:PORT:\n", registry.CAFile)
	fmt.Fprintf(w, "  skopeo, podman, CRI-O: /etc/containers/certs.d/HOST:PORT/ca.crt\n")
	fmt.Fprintf(w, "  docker:                /etc/docker/certs.d/HOST:PORT/ca.crt\n")
	fmt.Fprintf(w, "  containerd:            /etc/containerd/certs.d/HOST:PORT/ca.crt, named by ca in its hosts.toml\n")
	return nil
}
