//go:build tools

// Package k8s lists the control plane's commands so that go mod tidy keeps
// what they need; scripts/k8s-control-plane builds them.
package k8s

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
