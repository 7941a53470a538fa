package kube

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"ferry/bundle"
	"ferry/internal/oci"
)

// ErrMissingImage marks a chart that names an image the bundle does not
// carry: installing it would make the cluster pull from somewhere the
// appliance cannot vouch for, or fail to pull at all.
var ErrMissingImage = errors.New("image not in the bundle")

// Pinner rewrites every container image of rendered manifests to the
// digest of the bundle's image of the same name, served by Registry. Its
// Run method is Helm v4's postrenderer.PostRenderer, so Helm calls it on
// every rendered manifest, hooks included.
type Pinner struct {
	// Registry is the address the cluster's nodes pull from, such as
	// "registry.local:5000" or "registry.local/mirror".
	Registry string
	// Chart names the chart in messages.
	Chart string
	// Images are the bundle's images, as the manifest lists them.
	Images []bundle.Image
}

// Use is one container's image in a rendered manifest.
type Use struct {
	Template  string // the chart's template file, when the manifest says
	Kind      string // the resource's kind, such as Deployment
	Name      string // the resource's metadata.name
	Field     string // containers, initContainers or ephemeralContainers
	Container string // the container's name
	Image     string // the image as the chart names it
	// Bundle is the name of the bundle's image it matched, and Pinned the
	// reference it is rewritten to; both empty when the bundle lacks it.
	Bundle string
	Pinned string
}

// String names the use for messages: chart template, resource, container.
func (u Use) String() string {
	s := u.Kind + "/" + u.Name
	if u.Template != "" {
		s = u.Template + ": " + s
	}
	return fmt.Sprintf("%s %s %q", s, strings.TrimSuffix(u.Field, "s"), u.Container)
}

// MissingError lists every image of a chart that the bundle lacks.
type MissingError struct {
	Chart   string
	Missing []Use
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chart %s names %d image(s) the bundle does not carry:", e.Chart, len(e.Missing))
	for _, u := range e.Missing {
		fmt.Fprintf(&b, "\n  %s: image %q", u, u.Image)
	}
	b.WriteString("\nadd them to the component's images: in ferry.yaml, or set the chart's values to an image the bundle has")
	return b.String()
}

// Is makes errors.Is(err, ErrMissingImage) hold.
func (e *MissingError) Is(target error) bool { return target == ErrMissingImage }

// Run pins the images of a rendered multi-document manifest, for Helm.
func (p *Pinner) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	out, _, err := p.Pin(rendered.Bytes())
	if err != nil {
		return nil, err
	}
	return bytes.NewBuffer(out), nil
}

// Uses lists every container image of the rendered manifest with the
// bundle image it resolves to. A manifest it cannot read is an error; an
// image the bundle lacks is not (its Pinned is empty).
func (p *Pinner) Uses(rendered []byte) ([]Use, error) {
	if err := p.checkRegistry(); err != nil {
		return nil, err
	}
	sites, err := findImages(rendered)
	if err != nil {
		return nil, fmt.Errorf("chart %s: rendered manifest: %w", p.Chart, err)
	}
	uses := make([]Use, len(sites))
	for i, s := range sites {
		uses[i] = s.use
		if img, ok := p.match(s.use.Image); ok {
			uses[i].Bundle = img.Name
			uses[i].Pinned = p.pinned(img)
		}
	}
	return uses, nil
}

// Pin returns the rendered manifest with every container image rewritten
// to its pinned reference, and the uses it rewrote. Every other byte is
// kept: documents, their order, comments (Helm's "# Source:" lines) and
// annotations (Helm's postrender-filename). When an image is missing from
// the bundle it returns a *MissingError naming them all and no manifest.
func (p *Pinner) Pin(rendered []byte) ([]byte, []Use, error) {
	uses, err := p.Uses(rendered)
	if err != nil {
		return nil, nil, err
	}
	var missing []Use
	for _, u := range uses {
		if u.Pinned == "" {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		return nil, uses, &MissingError{Chart: p.Chart, Missing: missing}
	}
	sites, err := findImages(rendered)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	last := 0
	for i, s := range sites {
		out.Write(rendered[last:s.start])
		out.WriteString(strconv.Quote(uses[i].Pinned))
		last = s.end
	}
	out.Write(rendered[last:])
	// Read the result back: what Kubernetes will read must be exactly the
	// pinned references, in the same places.
	again, err := findImages(out.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("chart %s: the pinned manifest does not read back (%w): refusing to install it", p.Chart, err)
	}
	if len(again) != len(uses) {
		return nil, nil, fmt.Errorf("chart %s: the pinned manifest does not read back (%d of %d objects): refusing to install it", p.Chart, len(again), len(uses))
	}
	for i, s := range again {
		if s.use.Image != uses[i].Pinned || s.use.Container != uses[i].Container {
			return nil, nil, fmt.Errorf("chart %s: %s: the pinned manifest reads %q, not %q: refusing to install it", p.Chart, uses[i], s.use.Image, uses[i].Pinned)
		}
	}
	return out.Bytes(), uses, nil
}

// pinned is REGISTRY/REPOSITORY@DIGEST for a bundle image.
func (p *Pinner) pinned(img bundle.Image) string {
	repo := img.Name
	if r, err := oci.ParseRefName(img.Name); err == nil {
		repo = r.Repository
	}
	return strings.TrimSuffix(p.Registry, "/") + "/" + repo + "@" + img.Digest
}

// checkRegistry refuses a registry address that would make the pinned
// references mean something else.
func (p *Pinner) checkRegistry() error {
	r := strings.TrimSuffix(p.Registry, "/")
	switch {
	case r == "":
		return errors.New("no registry: give the address the cluster's nodes pull the bundle's images from")
	case strings.Contains(r, "://"):
		return fmt.Errorf("registry %q: give a host[:port][/path], without a scheme", p.Registry)
	case strings.ContainsAny(r, "@ \t\n\"'"):
		return fmt.Errorf("registry %q: not a registry address", p.Registry)
	}
	return nil
}
