// Package oci is the one home of the OCI vocabulary ferry speaks: content
// digests, the grammar of repository names and tags, the annotation that
// names an image in a layout, and readers that stop on a done context or
// check a digest as they read.
//
// The builder decides which image names go into a bundle and the
// appliance's registry decides which names it serves. Both ask this
// package (the builder through bundle/image's ServedName), so a bundle
// ferry builds is always one the appliance can serve: a second copy of the
// grammar could drift and let ferry build images that install but are
// never served.
//
// The package imports only the standard library, so every layer may use
// it, the leaf packages too (bundle/spec checks database names with it),
// without linking a registry client; TestLeaf keeps it so. What needs
// go-containerregistry lives elsewhere: reading references (bundle/image)
// and classifying a registry's errors (internal/registryerr).
package oci
