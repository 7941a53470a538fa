package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/verify"
)

// clusterFlags name the Kubernetes cluster that a release's charts go to.
func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "kubeconfig", EnvVars: []string{"KUBECONFIG"}, Usage: "the kubeconfig `FILE` of the cluster the bundle's charts go to (default: ~/.kube/config, or the in-cluster configuration)"},
		&cli.StringFlag{Name: "context", Usage: "the kubeconfig context `NAME` (default: its current context)"},
	}
}

// chartFlags are clusterFlags and what installing charts needs besides.
func chartFlags() []cli.Flag {
	return append(clusterFlags(),
		&cli.StringFlag{Name: "registry", Usage: "install the bundle's charts, with every image pinned to `HOST[:PORT][/PREFIX]`/NAME@DIGEST: the registry the cluster's nodes pull from (ferry registry serve, or --push-to's)"},
		&cli.BoolFlag{Name: "take-ownership", Usage: "let a chart adopt resources that exist in the cluster and belong to no release of it (default: refuse, naming them)"},
	)
}

// clusterOf is the cluster the command names: for an install (charts
// true) only when --registry is given, since images cannot be pinned
// without it; for a rollback when --kubeconfig or --context is, or
// KUBECONFIG is set. Nil means no cluster: charts stay in the store.
func clusterOf(c *cli.Context, charts bool) (installer.Cluster, error) {
	if charts && c.String("registry") == "" {
		if c.IsSet("context") || c.Bool("take-ownership") {
			return nil, usageError("--context and --take-ownership install charts, which needs --registry")
		}
		return nil, nil
	}
	if !charts && c.String("kubeconfig") == "" && c.String("context") == "" {
		return nil, nil
	}
	return newCluster(c)
}

// withCharts adds the drift of the current release's charts to what
// installer.Check found (drift, err), when the command names a cluster.
func withCharts(c *cli.Context, drift []installer.Drift, err error) ([]installer.Drift, error) {
	cl, cerr := clusterOf(c, false)
	if cerr != nil || cl == nil {
		return drift, errors.Join(err, cerr)
	}
	cd, cerr := installer.CheckCharts(c.Context, c.String("root"), cl)
	if cerr != nil && !errors.Is(cerr, installer.ErrDrift) {
		return drift, cerr
	}
	if drift = append(drift, cd...); len(drift) > 0 {
		return drift, fmt.Errorf("%w: %d differences", installer.ErrDrift, len(drift))
	}
	return nil, nil
}

// bundleChartsCommand extracts a bundle's charts, verified, for helm or
// for a look at what an install would deploy.
func bundleChartsCommand() *cli.Command {
	return &cli.Command{
		Name:      "charts",
		Usage:     "verify a bundle and write its Helm charts and their values files to a directory",
		ArgsUsage: "BUNDLE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the `DIR` to write to"},
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public key `FILE` (repeat for several)"},
			&cli.IntFlag{Name: "threshold", Value: 1, Usage: "number of distinct trusted keys that must have signed"},
		},
		Action: func(c *cli.Context) error {
			src, err := bundleArg(c, "bundle charts")
			if err != nil {
				return err
			}
			keys, err := src.publicKeys(c.StringSlice("key"))
			if err != nil {
				return err
			}
			out, err := installer.ExtractCharts(c.Context, src.path, verify.TrustSet{Keys: keys, Threshold: c.Int("threshold")}, c.String("output"))
			if err != nil {
				return err
			}
			if len(out) == 0 {
				fmt.Fprintln(c.App.Writer, "the bundle carries no charts")
			}
			for _, ch := range out {
				fmt.Fprintf(c.App.Writer, "chart %s (component %s): %s\n", ch.Chart, ch.Component, ch.Archive)
				for _, v := range ch.Values {
					fmt.Fprintf(c.App.Writer, "  values %s\n", v)
				}
			}
			return nil
		},
	}
}
