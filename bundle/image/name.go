package image

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// containerdNameAnnotation names an image in a layout containerd
// exported; the OCI one is oci.RefNameAnnotation.
const containerdNameAnnotation = "io.containerd.image.name"

// isFullName reports whether an annotation value is an image name with
// a repository ("wf/worker:1.4.0") rather than a bare tag ("1.4.0"). A tag
// cannot contain '/', ':' or '@'.
func isFullName(s string) bool {
	if !strings.ContainsAny(s, "/:@") {
		return false
	}
	_, err := name.ParseReference(s)
	return err == nil
}

// fallbackName names an image that carries no usable name of its own
// after its directory or file (base, already without a file extension),
// then the tag, or the digest, or "latest".
func fallbackName(base, tag, digest string) (string, error) {
	ref := base + ":latest"
	switch {
	case tag != "":
		ref = base + ":" + tag
	case digest != "":
		ref = base + "@" + digest
	}
	served, err := ServedName(ref, false)
	if err != nil {
		return "", fmt.Errorf("it has no name of its own and %q is not a valid image name; set name: for it in the spec: %w", ref, err)
	}
	return served, nil
}
