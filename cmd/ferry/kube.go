package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"ferry/installer"
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
