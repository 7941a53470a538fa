package bundle

import (
	"path"
	"strings"
)

// validName reports whether s is a valid bundle, component or service
// name, with the same rule the spec validator applies: names become file
// and directory names on the appliance.
func validName(s string) bool {
	return len(s) <= maxSpecNameLen && specNameRE.MatchString(s)
}

// isCleanRelPath reports whether p is a relative slash path that stays
// inside its root: no "..", no absolute or empty path, already clean.
func isCleanRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || path.Clean(p) != p || p == "." {
		return false
	}
	return p != ".." && !strings.HasPrefix(p, "../")
}
