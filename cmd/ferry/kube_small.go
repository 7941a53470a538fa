//go:build !kube

package main

import (
	"github.com/urfave/cli/v2"

	"ferry/installer"
)

func newCluster(*cli.Context) (installer.Cluster, error) {
	return nil, usageError("this ferry is built without Kubernetes support: install charts with ferry-kube (make build makes both; go build -tags kube)")
}
