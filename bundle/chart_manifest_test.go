package bundle_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/bundle/spec"
)

// TestManifestChartInstallFields covers the chart fields of the signed
// manifest: a manifest from before they existed (one values digest as a
// string, no namespace, release or timeout) reads with the defaults,
// several values files round-trip, and names Helm or Kubernetes would
// refuse are refused when the manifest is parsed, whoever signed it.
func TestManifestChartInstallFields(t *testing.T) {
	f := fixture(t)
	raw := readEntries(t, f.data)[0].data
	m, err := bundle.ParseManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	ci, hi := -1, -1
	for i, c := range m.Components {
		for j, ch := range c.Charts {
			if len(ch.Values) == 1 {
				ci, hi = i, j
			}
		}
	}
	if ci < 0 {
		t.Fatal("no chart with a values file in the fixture")
	}
	ch := m.Components[ci].Charts[hi]
	if !bytes.Contains(raw, []byte(`"values":"`+ch.Values[0]+`"`)) {
		t.Fatal("one values file must keep the string form of older manifests")
	}
	if ch.ReleaseName() != ch.Name || ch.InstallTimeout() != 5*time.Minute || ch.Namespace != "" {
		t.Errorf("defaults: release %q timeout %v namespace %q", ch.ReleaseName(), ch.InstallTimeout(), ch.Namespace)
	}

	edit := func(fn func(ch *bundle.Chart)) ([]byte, error) {
		mm := *m
		mm.Components = append([]bundle.Component(nil), m.Components...)
		mm.Components[ci].Charts = append([]bundle.Chart(nil), m.Components[ci].Charts...)
		fn(&mm.Components[ci].Charts[hi])
		return mm.Marshal()
	}
	good, err := edit(func(c *bundle.Chart) {
		c.Values = spec.ValueFiles{c.Values[0], c.Digest}
		c.Namespace, c.Release, c.Timeout = "apps", "web.front", spec.Duration(90*time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	back, err := bundle.ParseManifest(good)
	if err != nil {
		t.Fatal(err)
	}
	got := back.Components[ci].Charts[hi]
	if len(got.Values) != 2 || got.ReleaseName() != "web.front" || got.InstallTimeout() != 90*time.Second || got.Namespace != "apps" {
		t.Errorf("round trip = %+v", got)
	}

	for _, tc := range []struct {
		name string
		edit func(c *bundle.Chart)
		msg  string
	}{
		{"release not DNS-1123", func(c *bundle.Chart) { c.Release = "Web" }, "release name"},
		{"release too long", func(c *bundle.Chart) { c.Release = strings.Repeat("a", 54) }, "at most 53"},
		{"chart name no release name", func(c *bundle.Chart) { c.Name = "my_chart" }, "give one in release"},
		{"namespace", func(c *bundle.Chart) { c.Namespace = "a.b" }, "namespace"},
		{"negative timeout", func(c *bundle.Chart) { c.Timeout = -1 }, "negative"},
		{"values digest absent", func(c *bundle.Chart) { c.Values = spec.ValueFiles{c.Values[0], "sha256:" + strings.Repeat("0", 64)} }, "values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := edit(tc.edit)
			if err != nil {
				t.Fatal(err)
			}
			_, err = bundle.ParseManifest(data)
			if !errors.Is(err, bundle.ErrMalformedManifest) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want a malformed manifest naming %q", err, tc.msg)
			}
		})
	}
	t.Run("one values file as an array", func(t *testing.T) {
		data := bytes.Replace(raw, []byte(`"values":"`+ch.Values[0]+`"`), []byte(`"values":["`+ch.Values[0]+`"]`), 1)
		if _, err := bundle.ParseManifest(data); !errors.Is(err, bundle.ErrMalformedManifest) {
			t.Fatalf("got %v, want a malformed manifest", err)
		}
	})
	t.Run("two charts one release", func(t *testing.T) {
		mm := *m
		mm.Components = append([]bundle.Component(nil), m.Components...)
		charts := append([]bundle.Chart(nil), m.Components[ci].Charts...)
		if len(charts) < 2 {
			t.Skip("the fixture's chart component has one chart")
		}
		charts[0].Release, charts[1].Release = "same", "same"
		mm.Components[ci].Charts = charts
		data, err := mm.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.ParseManifest(data); !errors.Is(err, bundle.ErrMalformedManifest) || !strings.Contains(err.Error(), "also installed") {
			t.Fatalf("got %v, want a malformed manifest naming the duplicate release", err)
		}
	})
}
