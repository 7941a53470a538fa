package bundle

import (
	"path"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// bundleNameRE is the syntax of bundle and component names: they become
// file and directory names on the appliance.
var bundleNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func validName(s string) bool { return bundleNameRE.MatchString(s) }

// strictSemver parses a version the way anti-rollback compares it.
func strictSemver(v string) (*semver.Version, error) { return semver.StrictNewVersion(v) }

// isCleanRelPath reports whether p is a relative slash path that stays
// inside its root: no "..", no absolute or empty path, already clean.
func isCleanRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || path.Clean(p) != p || p == "." {
		return false
	}
	return p != ".." && !strings.HasPrefix(p, "../")
}
