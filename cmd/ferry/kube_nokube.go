//go:build nokube

package main

import (
	"github.com/urfave/cli/v2"

	"ferry/installer"
)

func newCluster(*cli.Context) (installer.Cluster, error) {
	return nil, usageError("this ferry is built without Kubernetes support (the small build, tag nokube): use the full ferry to install charts")
}
