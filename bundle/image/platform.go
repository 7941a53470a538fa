package image

import (
	"bytes"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// parsePlatforms parses "os/arch[/variant]" strings. Anything else is
// refused rather than guessed, since a wrong platform silently leaves an
// appliance without a runnable image.
func parsePlatforms(ss []string) ([]v1.Platform, error) {
	var ps []v1.Platform
	for _, s := range ss {
		parts := strings.Split(s, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
			return nil, fmt.Errorf("platform %q: want os/arch[/variant], such as linux/amd64", s)
		}
		p := v1.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			p.Variant = parts[2]
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// platformWanted reports whether have matches one of want: os and
// architecture always, the variant only when the wanted platform names one.
// An arm64 image without a variant is v8, as the OCI image spec implies.
func platformWanted(have *v1.Platform, want []v1.Platform) bool {
	if have == nil {
		return false
	}
	for _, w := range want {
		if w.OS != have.OS || w.Architecture != have.Architecture {
			continue
		}
		if w.Variant == "" {
			return true
		}
		v := have.Variant
		if v == "" && have.Architecture == "arm64" {
			v = "v8"
		}
		if v == w.Variant {
			return true
		}
	}
	return false
}

// platformString formats a platform as "os/arch[/variant]".
func platformString(p *v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platformList formats wanted platforms for an error message.
func platformList(ps []v1.Platform) string {
	ss := make([]string, len(ps))
	for i := range ps {
		ss[i] = platformString(&ps[i])
	}
	return strings.Join(ss, ", ")
}

// indexPlatforms lists the platforms of an index's manifests, in index
// order and each once. Entries without a real platform (attestations are
// "unknown/unknown") are not platforms anyone runs, so they are left out.
func indexPlatforms(ds []v1.Descriptor) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Platform == nil || d.Platform.OS == "" || d.Platform.OS == "unknown" {
			continue
		}
		s := platformString(d.Platform)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// platformOf reads a single image's platform from its config. It is
// nil when the config is not an image config (an artifact) or names none.
func platformOf(img v1.Image, raw []byte) (*v1.Platform, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if !m.Config.MediaType.IsConfig() {
		return nil, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	p := cf.Platform()
	if p == nil || p.OS == "" || p.Architecture == "" {
		return nil, nil
	}
	return p, nil
}

// topDescriptor is the descriptor the builder puts in the bundle's
// index.json: what the content is, and its platform when it has one.
// Annotations are left to the builder, which names the image.
func topDescriptor(d v1.Descriptor, plat *v1.Platform) v1.Descriptor {
	top := v1.Descriptor{
		MediaType:    d.MediaType,
		Size:         d.Size,
		Digest:       d.Digest,
		ArtifactType: d.ArtifactType,
	}
	if plat != nil {
		p := *plat
		top.Platform = &p
	}
	return top
}
