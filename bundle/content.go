package bundle

import (
	"encoding/json"

	"ferry/internal/oci"
)

// ContentID identifies the release a manifest describes by its content:
// the SHA-256 of the canonical JSON of its name, version and components
// (every file's path, mode, digest and size, the migrations, images,
// charts, services and checks). It leaves out what differs between two
// bundles of the same release: the creation time, the expiry, the
// signatures, the base, and the entries (whether content travels whole,
// compressed, patched or not at all). A full bundle and an update of one
// release have the same ContentID, and so do two builds of one spec, so
// an update names its base by it: it applies to any host whose release
// has that content, whichever bundle brought it there.
func (m *Manifest) ContentID() (string, error) {
	raw, err := json.Marshal(struct {
		Name       string      `json:"name"`
		Version    string      `json:"version"`
		Components []Component `json:"components"`
	}{m.Name, m.Version, m.Components})
	if err != nil {
		return "", err
	}
	return oci.FromBytes(raw).String(), nil
}
