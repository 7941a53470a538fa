// Package oci is the one home of the OCI vocabulary ferry speaks: content
// digests, the grammar of repository names and tags, the annotation that
// names an image in a layout, readers that stop on a done context or check
// a digest as they read, and what a registry's failure means.
//
// The builder decides which image names go into a bundle and the
// appliance's registry decides which names it serves. Both ask this
// package, so a bundle ferry builds is always one the appliance can serve:
// a second copy of the grammar could drift and let ferry build images that
// install but are never served.
//
// The package imports no other ferry package, so every layer may use it.
package oci
