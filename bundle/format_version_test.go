package bundle

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseManifestNewerFormat: a manifest of a newer format than this
// ferry reads is refused as such, with what to do, even when it holds
// members this ferry does not know (which a newer format will): not as
// a malformed manifest, which would send the operator looking for damage.
// An older or unknown version stays malformed.
func TestParseManifestNewerFormat(t *testing.T) {
	m := &Manifest{
		MediaType: ManifestMediaType, SchemaVersion: SchemaVersion, Name: "app", Version: "1.0.0",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Components: []Component{{Name: "api"}}, Entries: []Entry{},
	}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	newer := bytes.Replace(raw, []byte(`"schemaVersion":1,`), []byte(`"schemaVersion":2,`), 1)
	newer = bytes.Replace(newer, []byte(`"name":`), []byte(`"signedPolicy":{"x":1},"name":`), 1)
	if bytes.Equal(newer, raw) {
		t.Fatal("the test did not change the manifest")
	}
	_, err = ParseManifest(newer)
	if !errors.Is(err, ErrNewerFormat) || errors.Is(err, ErrMalformedManifest) {
		t.Fatalf("ParseManifest of schemaVersion 2: %v, want ErrNewerFormat", err)
	}
	for _, want := range []string{"schemaVersion 2", "reads up to 1", "upgrade ferry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	for _, v := range []string{"0", "-1"} {
		older := bytes.Replace(raw, []byte(`"schemaVersion":1,`), []byte(`"schemaVersion":`+v+`,`), 1)
		if _, err := ParseManifest(older); !errors.Is(err, ErrMalformedManifest) {
			t.Errorf("ParseManifest of schemaVersion %s: %v, want ErrMalformedManifest", v, err)
		}
	}
	if _, err := ParseManifest(raw); err != nil {
		t.Fatalf("ParseManifest of the manifest as written: %v", err)
	}
}
