package embed

import (
	"encoding/json"
	"io/fs"
	"testing"
)

func TestAssets(t *testing.T) {
	data, err := Catalog()
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Source   struct{ Version, SHA256 string }
		Controls []json.RawMessage
	}
	if err := json.Unmarshal(data, &c); err != nil || c.Source.Version == "" || c.Source.SHA256 == "" || len(c.Controls) == 0 {
		t.Fatalf("catalog: %v %+v", err, c.Source)
	}
	if _, err := fs.ReadFile(Templates(), "report.md.tmpl"); err != nil {
		t.Fatal(err)
	}
}
