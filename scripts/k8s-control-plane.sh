#!/usr/bin/env bash
# Builds the Kubernetes control plane that the tests run against (etcd,
# kube-apiserver, kube-controller-manager, pinned by the nested module
# test/k8s) into .cache/k8s/KEY/, where KEY hashes that module's go.mod and
# go.sum, the Go version and the build flags, and points .cache/k8s/bin at
# it. A warm cache makes this a no-op; a cold one takes minutes (the
# README says how long). The build goes to a temporary directory first, so
# an interrupted build never leaves a half-filled cache behind. Prints the
# directory of the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mod=test/k8s
cache=$root/.cache/k8s
GO=${GO:-go}

kube=v1.37.2
# The version kube-apiserver reports (discovery, Helm's .Capabilities):
# without it a source build says v0.0.0-master, which fails charts' kubeVersion.
ldflags="-s -w"
for kv in gitVersion=$kube gitMajor=1 gitMinor=37 gitTreeState=clean; do
	ldflags="$ldflags -X k8s.io/component-base/version.$kv"
done

key=$({
	cat "$mod/go.mod" "$mod/go.sum"
	"$GO" version
	echo "$ldflags"
} | sha256sum | cut -c1-16)
dir=$cache/$key

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

if [ ! -x "$dir/kube-controller-manager" ]; then
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "k8s-control-plane: building etcd and Kubernetes $kube into $dir (minutes on a cold cache)" >&2
	start=$(date +%s)
	(
		cd "$mod"
		export CGO_ENABLED=0
		$GO build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
		$GO build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/" \
			k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
	)
	rm -rf "$dir"
	mv "$tmp" "$dir"
	trap - EXIT
	echo "k8s-control-plane: built in $(($(date +%s) - start)) s" >&2
	# Builds of other keys are stale: keep only this one.
	find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
fi
ln -sfn "$key" "$cache/bin"
echo "$dir"
