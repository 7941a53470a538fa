// Package bundle makes and reads ferry bundles: the one signed tarball that
// carries a release to a disconnected host (docs/FORMAT.md is the normative
// description).
//
// It owns the manifest (the signed list of every entry and its SHA-256), the
// builder that turns a ferry.yaml into a bundle (LoadSpec, Build, update
// bundles against a base), the reader that verifies a bundle while streaming
// it (signatures first, then every byte against the manifest), the payload
// with its compressed and patched blobs, and the parts a large bundle is split
// into for removable media.
//
// What it leaves to others keeps it from becoming five packages in one:
// ferry.yaml's types and validation live in bundle/spec, image sources
// (registries, OCI layouts, docker archives) in bundle/image, the byte-level
// delta codec in updates, and the OCI names and digests shared with the
// appliance's registry in internal/oci.
package bundle
