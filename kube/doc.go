// Package kube holds what installing a bundle's Helm charts needs and can
// be done without a cluster: pinning the images of rendered manifests to
// the bundle's digests (Pinner, a Helm post-renderer), and finding the
// images a chart names that the bundle does not carry before anything is
// installed.
//
// The package does not import Helm's action package, which would make
// every ferry binary about 100 MB larger; the Pinner satisfies Helm's
// postrenderer.PostRenderer by its method set alone.
package kube
