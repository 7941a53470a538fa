package compliance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var catalogSource = flag.String("catalog", "", "rewrite the embedded catalog subset from this official NIST_SP-800-53_rev5_catalog.json")

// The official file the subset is copied from (usnistgov/oscal-content).
// The full catalogues from 2022 on also carry the 800-53A objectives; this
// is the newest full catalog without them.
const (
	sourceRepository = "usnistgov/oscal-content"
	sourcePath       = "nist.gov/SP800-53/rev5/json/NIST_SP-800-53_rev5_catalog.json"
	sourceCommit     = "a849dbca4649e0cc626fefdd46cf5232c8308f4c"
	sourceSHA256     = "95e025bfdc248269efb10ee2621b7a211116a2ef3a82f39676f7c5eb9c8acb64"
	sourceLicense    = "Public domain in the United States (US government work); rights waived worldwide under CC0 1.0 (usnistgov/oscal-content LICENSE.md)"
)

// TestCatalogSubset checks that the embedded catalog has every control
// the findings cite. With -catalog it first rewrites the subset from the
// official catalog, so the copy can be reproduced and compared.
func TestCatalogSubset(t *testing.T) {
	if *catalogSource != "" {
		writeCatalogSubset(t, *catalogSource)
		t.Log("the catalog subset was rewritten; run the test again to check the new one")
		return
	}
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if cat.Source.Version == "" || cat.Source.SHA256 == "" || cat.Source.Commit == "" {
		t.Errorf("the catalog does not say where it comes from: %+v", cat.Source)
	}
	for _, a := range assessors() {
		c, ok := cat.Control(a.id)
		if !ok {
			t.Errorf("%s is not in the embedded catalog", a.id)
			continue
		}
		if c.Title == "" || c.Statement() == "" || strings.Contains(c.Statement(), "{{") {
			t.Errorf("%s: title %q, statement %q", a.id, c.Title, c.Statement())
		}
	}
	si7, _ := cat.Control("si-7")
	want := "a. Employ integrity verification tools to detect unauthorized changes to the following software, firmware, and information: [Assignment: organization-defined software, firmware, and information]; and"
	if got := strings.Split(si7.Statement(), "\n")[0]; got != want {
		t.Errorf("SI-7 statement:\n got %s\nwant %s", got, want)
	}
}

func writeCatalogSubset(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != sourceSHA256 {
		t.Fatalf("%s has SHA-256 %s, not the catalog this subset is taken from (%s)", path, got, sourceSHA256)
	}
	type control struct {
		CatalogControl
		Controls []json.RawMessage `json:"controls"`
	}
	var doc struct {
		Catalog struct {
			UUID     string `json:"uuid"`
			Metadata struct {
				Title        string `json:"title"`
				LastModified string `json:"last-modified"`
				Version      string `json:"version"`
				OSCALVersion string `json:"oscal-version"`
			} `json:"metadata"`
			Groups []struct {
				Controls []json.RawMessage `json:"controls"`
			} `json:"groups"`
		} `json:"catalog"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	byID := map[string]CatalogControl{}
	var walk func(raw []json.RawMessage, parent *CatalogControl)
	walk = func(raw []json.RawMessage, parent *CatalogControl) {
		for _, r := range raw {
			var c control
			if err := json.Unmarshal(r, &c); err != nil {
				t.Fatal(err)
			}
			cc := c.CatalogControl
			var parts []Part
			for _, p := range cc.Parts {
				if p.Name == "statement" {
					parts = append(parts, p)
				}
			}
			cc.Parts = parts
			if parent != nil {
				cc.ParentID, cc.ParentTitle = parent.ID, parent.Title
			}
			byID[cc.ID] = cc
			walk(c.Controls, &cc)
		}
	}
	for _, g := range doc.Catalog.Groups {
		walk(g.Controls, nil)
	}
	md := doc.Catalog.Metadata
	out := Catalog{Source: CatalogSource{
		Title: md.Title, Version: md.Version, OSCALVersion: md.OSCALVersion, LastModified: md.LastModified,
		UUID: doc.Catalog.UUID, Repository: sourceRepository, Path: sourcePath, Commit: sourceCommit,
		URL:    "https://raw.githubusercontent.com/" + sourceRepository + "/" + sourceCommit + "/" + sourcePath,
		SHA256: sourceSHA256, License: sourceLicense,
	}}
	for _, a := range assessors() {
		c, ok := byID[a.id]
		if !ok {
			t.Fatalf("%s is not in %s", a.id, path)
		}
		out.Controls = append(out.Controls, c)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "embed", "catalog", "nist-sp800-53-rev5.json"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
