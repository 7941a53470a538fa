package registry

// Media types the registry needs to tell manifests from indexes. Docker's
// schema 2 types are accepted beside the OCI ones because images copied from
// Docker Hub keep them, and their digests depend on keeping them.
const (
	mediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxManifestSize bounds how much of a manifest the registry reads into
// memory. The distribution specification lets registries refuse manifests
// over 4 MiB, and the common ones do, so no client can depend on more.
const maxManifestSize = 4 << 20

func isIndexMediaType(mt string) bool {
	return mt == mediaTypeOCIIndex || mt == mediaTypeDockerList
}

func isManifestMediaType(mt string) bool {
	return mt == mediaTypeOCIManifest || mt == mediaTypeDockerManifest
}

// descriptor is the OCI content descriptor, with only the fields the
// registry reads or reports.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// manifest is the union of an OCI image manifest and an OCI image index (and
// their Docker counterparts): enough to follow the references out of either.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *descriptor       `json:"config,omitempty"`
	Layers        []descriptor      `json:"layers,omitempty"`
	Manifests     []descriptor      `json:"manifests,omitempty"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// index is the document the referrers API answers with.
type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}
