// Package image reads the images a bundle carries from where they are
// kept before a build: a registry, an OCI image layout or a docker save
// archive, in skopeo's transport syntax. It chooses the platforms a spec
// asks for and names each image as the appliance's registry will serve it.
//
// The builder needs only Resolve, its Options and what it returns (a
// Resolved image and its Blobs): the top manifest or index, the platforms
// kept and every blob, each opened lazily so that layers stream from their
// source into the bundle. Everything else, including go-containerregistry's
// registry client and the docker credential helpers, stays behind that
// boundary, so packages that need no image source do not link it.
//
// Names follow internal/oci, the grammar the appliance's registry serves
// with, so every image a bundle carries can be pulled from the appliance.
package image
