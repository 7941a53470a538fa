package kube

import (
	"errors"
	"time"

	"ferry/bundle"
)

// Errors of installing a chart into a cluster, which the command line
// gives exit codes of their own. They live here, not beside the Helm
// client (kube/apply), so that a build without Kubernetes support knows
// them too.
var (
	// ErrNotOwned marks a chart whose resources exist in the cluster and
	// belong to no release, or to another: installing it would take them
	// over, which ferry does only when told (--take-ownership).
	ErrNotOwned = errors.New("resources in the cluster belong to someone else")
	// ErrPending marks a release that an interrupted Helm operation left
	// pending: Helm refuses every operation on it until it is put back.
	ErrPending = errors.New("release has an operation pending")
	// ErrChart marks a chart that did not install or upgrade, or whose
	// resources did not become ready within its timeout.
	ErrChart = errors.New("chart did not deploy")
)

// Release is a Helm release as ferry records it.
type Release struct {
	Namespace string `json:"namespace"`
	Name      string `json:"release"`
	// Revision is the release's last revision; 0 when there is none.
	Revision int `json:"revision"`
	// Status is Helm's: deployed, failed, pending-install...
	Status string `json:"status,omitempty"`
	// Chart is the chart's name and version, as Chart.yaml says.
	Chart string `json:"chart,omitempty"`
	// Manifest is the ManifestDigest of the release's manifest (as
	// pinned), what drift is measured against.
	Manifest string `json:"manifest,omitempty"`
}

// Key names the release: namespace/name.
func (r Release) Key() string { return r.Namespace + "/" + r.Name }

// Chart is one chart to install or upgrade.
type Chart struct {
	Namespace string
	Release   string
	// Name names the chart in messages (name-version).
	Name    string
	Archive []byte
	// Values are the values files' contents, in the order they apply.
	Values  [][]byte
	Timeout time.Duration
	// Images are the bundle's images the chart may name.
	Images []bundle.Image
	// Description is kept in the release's history, such as
	// "ferry install app 1.4.0".
	Description string
}
