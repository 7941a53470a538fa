// Package installer installs verified bundles on an appliance: it plans the
// steps in dependency order, journals them in the appliance state, places
// content in the store and the release directory, and activates a release
// by switching one symlink.
package installer

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/config"
)

// Selection chooses components. Required components are always installed.
// Optional ones are installed by default; when Components is set, only the
// optional components it names (and the dependencies of any it names) are.
// Skip leaves optional components out.
type Selection struct {
	Components []string
	Skip       []string
}

// Step kinds, in the order they run within a component.
const (
	StepMigrations = "migrations"
	StepImage      = "image"
	StepFile       = "file"
	StepChart      = "chart"
	StepService    = "service"
	StepActivate   = "activate"
	StepCheck      = "check"
)

// Step is one idempotent unit of an install, named uniquely within it so
// the journal can say which steps are done.
type Step struct {
	Component string `json:"component,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	// Digests are the blobs the step needs from the bundle.
	Digests []string `json:"digests,omitempty"`
}

// ID names the step in the journal.
func (s Step) ID() string {
	if s.Component == "" {
		return s.Kind + ":" + s.Name
	}
	return s.Component + "/" + s.Kind + ":" + s.Name
}

// Plan is what an install will do, computed from the manifest alone.
type Plan struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Components are the chosen components in install order; Skipped the
	// optional ones left out.
	Components []string `json:"components"`
	Skipped    []string `json:"skipped,omitempty"`
	// Levels group the chosen components: each depends only on earlier
	// levels, so the components of one level may be installed in parallel.
	Levels [][]string `json:"levels"`
	Steps  []Step     `json:"steps"`
	// Reversible is false when a migration lacks its down file.
	Reversible bool `json:"reversible"`
	// Services says who each service of the chosen components runs as on
	// this host.
	Services []RunAs `json:"services,omitempty"`
	// Config is the site configuration the install would use, when the
	// bundle declares variables.
	Config *config.Report `json:"config,omitempty"`
}

// MakePlan orders the components of m, applies sel and lists the steps.
func MakePlan(m *bundle.Manifest, digest string, sel Selection) (*Plan, error) {
	order, err := m.Order()
	if err != nil {
		return nil, err
	}
	byName := map[string]bundle.Component{}
	for _, c := range order {
		byName[c.Name] = c
	}
	for _, n := range append(slices.Clone(sel.Components), sel.Skip...) {
		if _, ok := byName[n]; !ok {
			return nil, fmt.Errorf("no component %q in %s %s (it has: %s)", n, m.Name, m.Version, strings.Join(names(order), ", "))
		}
	}
	chosen, err := choose(order, byName, sel)
	if err != nil {
		return nil, err
	}
	p := &Plan{Name: m.Name, Version: m.Version, Digest: digest, Reversible: true}
	h := currentHost()
	depth := map[string]int{}
	for _, c := range order {
		if !chosen[c.Name] {
			p.Skipped = append(p.Skipped, c.Name)
			continue
		}
		p.Components = append(p.Components, c.Name)
		d := 0
		for _, dep := range c.DependsOn {
			d = max(d, depth[dep]+1)
		}
		depth[c.Name] = d
		for len(p.Levels) <= d {
			p.Levels = append(p.Levels, nil)
		}
		p.Levels[d] = append(p.Levels[d], c.Name)
		p.Steps = append(p.Steps, componentSteps(c, p)...)
		for _, svc := range c.Services {
			p.Services = append(p.Services, h.runAs(c.Name, svc))
		}
	}
	p.Steps = append(p.Steps, Step{Kind: StepActivate, Name: m.Version})
	for _, name := range p.Components {
		for i, chk := range byName[name].Checks {
			p.Steps = append(p.Steps, Step{Component: name, Kind: StepCheck, Name: checkName(i, chk)})
		}
	}
	return p, nil
}

// choose applies a selection: required components always, optional ones
// by default or when named, and everything a chosen component depends on.
func choose(order []bundle.Component, byName map[string]bundle.Component, sel Selection) (map[string]bool, error) {
	skip := map[string]bool{}
	for _, n := range sel.Skip {
		if !byName[n].Optional {
			return nil, fmt.Errorf("component %q is required and cannot be skipped", n)
		}
		skip[n] = true
	}
	named := map[string]bool{}
	for _, n := range sel.Components {
		named[n] = true
	}
	chosen := map[string]bool{}
	var bring func(name, why string) error
	bring = func(name, why string) error {
		if chosen[name] {
			return nil
		}
		if skip[name] {
			return fmt.Errorf("component %q is skipped, but %s depends on it", name, why)
		}
		chosen[name] = true
		for _, d := range byName[name].DependsOn {
			if err := bring(d, name); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range order {
		want := !c.Optional || (len(sel.Components) == 0 && !skip[c.Name]) || named[c.Name]
		if named[c.Name] && skip[c.Name] {
			return nil, fmt.Errorf("component %q is both chosen and skipped", c.Name)
		}
		if want {
			if err := bring(c.Name, "the selection"); err != nil {
				return nil, err
			}
		}
	}
	return chosen, nil
}

func componentSteps(c bundle.Component, p *Plan) []Step {
	var steps []Step
	for _, ms := range c.Migrations {
		s := Step{Component: c.Name, Kind: StepMigrations, Name: ms.Database}
		for _, m := range ms.Steps {
			s.Digests = append(s.Digests, m.Up)
			if m.Down == "" {
				p.Reversible = false
			} else {
				s.Digests = append(s.Digests, m.Down)
			}
		}
		steps = append(steps, s)
	}
	for _, img := range c.Images {
		steps = append(steps, Step{Component: c.Name, Kind: StepImage, Name: img.Name, Digests: img.Blobs})
	}
	for _, f := range c.Files {
		steps = append(steps, Step{Component: c.Name, Kind: StepFile, Name: f.Dest, Digests: []string{f.Digest}})
	}
	for _, ch := range c.Charts {
		s := Step{Component: c.Name, Kind: StepChart, Name: ch.Name + "-" + ch.Version, Digests: []string{ch.Digest}}
		s.Digests = append(s.Digests, ch.Values...)
		steps = append(steps, s)
	}
	for _, svc := range c.Services {
		steps = append(steps, Step{Component: c.Name, Kind: StepService, Name: svc.Name})
	}
	return steps
}

func checkName(i int, c spec.Check) string {
	if c.HTTP != "" {
		return fmt.Sprintf("%d:GET %s", i+1, c.HTTP)
	}
	return fmt.Sprintf("%d:%s", i+1, strings.Join(c.Command, " "))
}

// Needed returns the distinct digests the plan's steps need, sorted.
func (p *Plan) Needed() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Steps {
		for _, d := range s.Digests {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out
}

func names(cs []bundle.Component) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}
