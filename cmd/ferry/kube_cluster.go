//go:build kube

package main

import (
	"github.com/urfave/cli/v2"

	"ferry/installer"
	"ferry/kube/apply"
)

func newCluster(c *cli.Context) (installer.Cluster, error) {
	return apply.New(apply.Options{
		Kubeconfig: c.String("kubeconfig"), Context: c.String("context"),
		Registry: c.String("registry"), TakeOwnership: c.Bool("take-ownership"),
		Log: logger(c),
	}), nil
}
