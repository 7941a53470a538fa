// Package registry serves ferry's content store over the pull side of the OCI
// distribution specification, so that container runtimes, skopeo and Helm on
// the appliance can fetch the images a bundle installed.
//
// The content store is a single OCI image layout. Its index.json names every
// image with the annotation org.opencontainers.image.ref.name, holding the
// repository path and a tag ("wf/api:1.4.0") or a digest ("wf/api@sha256:…").
// The registry derives its repositories from those names: a repository holds
// the images named after it and everything reachable from them (child
// manifests of an index, configs, layers), and nothing else, so a client can
// read a blob only through an image that carries it.
//
// The registry is read-only. Content reaches the store through ferry install
// and ferry update, which verify it against the signed bundle first; a push
// would bypass that check, so every write method is refused.
package registry
