// Package embed holds the files ferry carries inside its binary, so that a
// disconnected host needs nothing else: the subset of the NIST SP 800-53
// rev5 control catalog that compliance reports cite, and the templates of
// the reports written for people.
//
// The catalog subset is copied from the official OSCAL catalog by a test in
// package compliance (go test ./compliance -run TestCatalogSubset -catalog
// FILE); the file records where it came from, its version and its SHA-256,
// so an assessor can check every title and statement against the source.
package embed

import (
	"embed"
	"io/fs"
)

// CatalogFile is the name of the catalog subset within Catalog's file.
const CatalogFile = "catalog/nist-sp800-53-rev5.json"

//go:embed catalog/*.json
var catalogFiles embed.FS

//go:embed templates/*.tmpl
var templateFiles embed.FS

// Catalog returns the control catalog subset: JSON with the source it was
// taken from and the controls, each as it appears in the official OSCAL
// catalog (statement only).
func Catalog() ([]byte, error) {
	return catalogFiles.ReadFile(CatalogFile)
}

// Templates returns the report templates (text/template syntax), by file
// name.
func Templates() fs.FS {
	sub, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		// "templates" is a valid path by construction.
		panic(err)
	}
	return sub
}
