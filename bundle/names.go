package bundle

import (
	"errors"
	"fmt"
	"time"

	"ferry/bundle/spec"
)

// validName reports whether s passes spec.CheckName.
func validName(s string) bool { return spec.CheckName(s) == nil }

// checkChartName checks a chart's name, which is a directory and file
// name when the chart is unpacked or rendered.
func checkChartName(s string) error {
	switch {
	case s == "":
		return errors.New("name is required")
	case !chartNameRE.MatchString(s) || len(s) > 250:
		return fmt.Errorf("name %q: use lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit", s)
	}
	return nil
}

// checkChartInstall checks how a chart is installed: its release name
// (given, or the chart's name, which Helm's rule may refuse where the
// chart's own rule allows it), its namespace and its timeout.
func checkChartInstall(ch Chart) error {
	if err := spec.CheckReleaseName(ch.ReleaseName()); err != nil {
		if ch.Release == "" {
			return fmt.Errorf("%w: the chart's name is not a valid release name, so give one in release", err)
		}
		return err
	}
	if ch.Namespace != "" {
		if err := spec.CheckNamespace(ch.Namespace); err != nil {
			return err
		}
	}
	if ch.Timeout < 0 {
		return fmt.Errorf("timeout %s is negative", time.Duration(ch.Timeout))
	}
	return nil
}

// checkNames applies the spec's rules to every name and destination of a
// manifest that becomes a path on the appliance: service, database and
// chart names, and file destinations and modes, each unique where the
// spec requires it. (Component names are checked with the components.)
func (m *Manifest) checkNames() error {
	services := map[string]string{} // service name -> its component
	dests := map[string]string{}    // file destination -> its component
	releases := map[string]string{} // namespace/release -> its component
	for _, c := range m.Components {
		for _, svc := range c.Services {
			if err := spec.CheckName(svc.Name); err != nil {
				return fmt.Errorf("component %s: service name: %w", c.Name, err)
			}
			if other, dup := services[svc.Name]; dup {
				return fmt.Errorf("component %s: service %q is also in component %s: service names are unique across the bundle", c.Name, svc.Name, other)
			}
			services[svc.Name] = c.Name
		}
		databases := map[string]bool{}
		for _, ms := range c.Migrations {
			if err := spec.CheckDatabaseName(ms.Database); err != nil {
				return fmt.Errorf("component %s: migrations: database name: %w", c.Name, err)
			}
			if databases[ms.Database] {
				return fmt.Errorf("component %s: database %q has two sets of migrations", c.Name, ms.Database)
			}
			databases[ms.Database] = true
		}
		for _, ch := range c.Charts {
			if err := checkChartName(ch.Name); err != nil {
				return fmt.Errorf("component %s: chart %w", c.Name, err)
			}
			if err := checkChartInstall(ch); err != nil {
				return fmt.Errorf("component %s: chart %s: %w", c.Name, ch.Name, err)
			}
			key := ch.Namespace + "/" + ch.ReleaseName()
			if other, dup := releases[key]; dup {
				return fmt.Errorf("component %s: chart %s: release %q in namespace %q is also installed by component %s: give one of them another release name", c.Name, ch.Name, ch.ReleaseName(), ch.Namespace, other)
			}
			releases[key] = c.Name
		}
		for _, f := range c.Files {
			if err := spec.CheckFileDest(f.Dest); err != nil {
				return fmt.Errorf("component %s: file destination: %w", c.Name, err)
			}
			if _, err := spec.FileMode(f.Mode); err != nil {
				return fmt.Errorf("component %s: file %s: %w", c.Name, f.Dest, err)
			}
			if other, dup := dests[f.Dest]; dup {
				return fmt.Errorf("component %s: file %q is also written by component %s: each destination comes from one file", c.Name, f.Dest, other)
			}
			dests[f.Dest] = c.Name
		}
	}
	isDest := func(d string) bool { _, ok := dests[d]; return ok }
	for _, c := range m.Components {
		for _, f := range c.Files {
			if dir, ok := spec.FileInsideFile(f.Dest, isDest); ok {
				return fmt.Errorf("component %s: file %q is inside %q, which component %s writes as a file", c.Name, f.Dest, dir, dests[dir])
			}
		}
	}
	return nil
}
