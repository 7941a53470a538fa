package oci

import "regexp"

// databaseNameRE is a logical database name: it names a file of the
// appliance (an SQLite database) and is written into SQL, so it is
// lowercase letters, digits and '_', starting with a letter.
var databaseNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidDatabaseName reports whether s may name a logical database. The
// bundle's spec and the installer's migrations check names with it, so a
// name a bundle accepts is one the installer can use.
func ValidDatabaseName(s string) bool { return databaseNameRE.MatchString(s) }
