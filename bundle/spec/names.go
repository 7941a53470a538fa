package spec

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"ferry/internal/oci"
)

// The rules in this file are checked twice: by the spec validator when a
// bundle is built, and by package bundle on the signed manifest when it is
// verified and installed. Names and destinations become paths on the
// appliance, and a manifest signed by a trusted key is still not trusted to
// choose where ferry writes: it must pass the same rules as the spec it
// came from.

// reservedPrefix starts the names that ferry keeps for itself inside a
// release directory (its metadata directory .ferry and the temporary
// files of its writes): no file destination may have a path element that
// begins with it.
const reservedPrefix = ".ferry"

// CheckName checks a bundle, component or service name: these become file
// and directory names on the appliance.
func CheckName(s string) error {
	switch {
	case s == "":
		return errors.New("is required")
	case len(s) > maxSpecNameLen || !specNameRE.MatchString(s):
		return fmt.Errorf("%q is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most %d characters", s, maxSpecNameLen)
	}
	return nil
}

// CheckDatabaseName checks a logical database name: it is an SQLite file
// name under <root>/data and a key of the operator's --db NAME=DSN. The
// grammar is oci.ValidDatabaseName's, which the installer's migrations
// check too, so a name a bundle accepts is one the installer can use.
func CheckDatabaseName(s string) error {
	switch {
	case s == "":
		return errors.New("is required: the logical database these migrations apply to, such as app")
	case len(s) > maxSpecNameLen || !oci.ValidDatabaseName(s):
		return fmt.Errorf("%q is not a valid database name: use lowercase letters, digits and _, starting with a letter, at most %d characters", s, maxSpecNameLen)
	}
	return nil
}

// CheckFileDest checks a file's destination: a clean relative slash path
// inside the release directory, so that installing it can never write
// anywhere else, and clear of the names ferry reserves there.
func CheckFileDest(dest string) error {
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
		if strings.HasPrefix(elem, reservedPrefix) {
			return fmt.Errorf("%q: names beginning with %s are ferry's own in a release directory (its metadata and temporary files): choose another name", dest, reservedPrefix)
		}
	}
	return nil
}

// FileInsideFile returns the ancestor directory of dest that is itself
// a destination (isDest), if any: "bin" and "bin/api" cannot both be
// files.
func FileInsideFile(dest string, isDest func(string) bool) (string, bool) {
	for dir := path.Dir(dest); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if isDest(dir) {
			return dir, true
		}
	}
	return "", false
}

// maxReleaseNameLen is Helm's limit on a release name: the name goes into
// labels and the names of the release's secrets.
const maxReleaseNameLen = 53

// dns1123LabelRE is a Kubernetes DNS-1123 label: a namespace, and each
// dot-separated part of a release name.
var dns1123LabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// CheckReleaseName checks a Helm release name the way Helm does: a
// DNS-1123 subdomain of at most 53 characters.
func CheckReleaseName(s string) error {
	if s == "" {
		return errors.New("release name is required")
	}
	ok := len(s) <= maxReleaseNameLen
	for _, part := range strings.Split(s, ".") {
		ok = ok && dns1123LabelRE.MatchString(part)
	}
	if !ok {
		return fmt.Errorf("release name %q: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most %d characters (Helm's rule)", s, maxReleaseNameLen)
	}
	return nil
}

// CheckNamespace checks a Kubernetes namespace name: a DNS-1123 label of
// at most 63 characters.
func CheckNamespace(s string) error {
	if len(s) > 63 || !dns1123LabelRE.MatchString(s) {
		return fmt.Errorf("namespace %q: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", s)
	}
	return nil
}
