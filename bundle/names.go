package bundle

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"ferry/internal/oci"
)

// The rules in this file are checked twice: by the spec validator when a
// bundle is built, and on the signed manifest when it is verified and
// installed. Names and destinations become paths on the appliance, and a
// manifest signed by a trusted key is still not trusted to choose where
// ferry writes: it must pass the same rules as the spec it came from.

// ReservedPrefix starts the names that ferry keeps for itself inside a
// release directory (its metadata directory .ferry and the temporary
// files of its writes): no file destination may have a path element that
// begins with it.
const ReservedPrefix = ".ferry"

// checkName checks a bundle, component or service name: these become file
// and directory names on the appliance.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("is required")
	case len(s) > maxSpecNameLen || !specNameRE.MatchString(s):
		return fmt.Errorf("%q is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most %d characters", s, maxSpecNameLen)
	}
	return nil
}

// validName reports whether s passes checkName.
func validName(s string) bool { return checkName(s) == nil }

// checkDatabaseName checks a logical database name: it is an SQLite file
// name under <root>/data and a key of the operator's --db NAME=DSN.
func checkDatabaseName(s string) error {
	switch {
	case s == "":
		return errors.New("is required: the logical database these migrations apply to, such as app")
	case len(s) > maxSpecNameLen || !oci.ValidDatabaseName(s):
		return fmt.Errorf("%q is not a valid database name: use lowercase letters, digits and _, starting with a letter, at most %d characters", s, maxSpecNameLen)
	}
	return nil
}

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

// checkFileDest checks a file's destination: a clean relative slash path
// inside the release directory, so that installing it can never write
// anywhere else, and clear of the names ferry reserves there.
func checkFileDest(dest string) error {
	const hint = "write a relative path inside the release directory, such as bin/api"
	switch {
	case dest == "":
		return fmt.Errorf("is required: %s", hint)
	case strings.HasPrefix(dest, "/"):
		return fmt.Errorf("%q is absolute: %s", dest, hint)
	case strings.Contains(dest, `\`):
		return fmt.Errorf("%q contains a backslash: separate directories with /", dest)
	case dest == ".." || strings.HasPrefix(dest, "../") || strings.HasSuffix(dest, "/..") || strings.Contains(dest, "/../"):
		return fmt.Errorf("%q leaves the release directory: %s", dest, hint)
	case dest == ".":
		return fmt.Errorf("names the release directory itself: %s", hint)
	case path.Clean(dest) != dest:
		return fmt.Errorf("%q is not a clean path (write %q): %s", dest, path.Clean(dest), hint)
	}
	for _, elem := range strings.Split(dest, "/") {
		if strings.HasPrefix(elem, ReservedPrefix) {
			return fmt.Errorf("%q: names beginning with %s are ferry's own in a release directory (its metadata and temporary files): choose another name", dest, ReservedPrefix)
		}
	}
	return nil
}

// fileInsideFile returns the ancestor directory of dest that is itself
// a destination (isDest), if any: "bin" and "bin/api" cannot both be
// files.
func fileInsideFile(dest string, isDest func(string) bool) (string, bool) {
	for dir := path.Dir(dest); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if isDest(dir) {
			return dir, true
		}
	}
	return "", false
}

// checkNames applies the spec's rules to every name and destination of a
// manifest that becomes a path on the appliance: service, database and
// chart names, and file destinations and modes, each unique where the
// spec requires it. (Component names are checked with the components.)
func (m *Manifest) checkNames() error {
	services := map[string]string{} // service name -> its component
	dests := map[string]string{}    // file destination -> its component
	for _, c := range m.Components {
		for _, svc := range c.Services {
			if err := checkName(svc.Name); err != nil {
				return fmt.Errorf("component %s: service name: %w", c.Name, err)
			}
			if other, dup := services[svc.Name]; dup {
				return fmt.Errorf("component %s: service %q is also in component %s: service names are unique across the bundle", c.Name, svc.Name, other)
			}
			services[svc.Name] = c.Name
		}
		databases := map[string]bool{}
		for _, ms := range c.Migrations {
			if err := checkDatabaseName(ms.Database); err != nil {
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
		}
		for _, f := range c.Files {
			if err := checkFileDest(f.Dest); err != nil {
				return fmt.Errorf("component %s: file destination: %w", c.Name, err)
			}
			if _, err := FileMode(f.Mode); err != nil {
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
			if dir, ok := fileInsideFile(f.Dest, isDest); ok {
				return fmt.Errorf("component %s: file %q is inside %q, which component %s writes as a file", c.Name, f.Dest, dir, dests[dir])
			}
		}
	}
	return nil
}
