package image

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"ferry/internal/oci"
)

func TestServedName(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		ref  string
		hub  bool
		want string
	}{
		// Registry references: the host goes, the path stays.
		{"registry.example.com/wf/api:1.4.0", true, "wf/api:1.4.0"},
		{"registry.example.com:5000/wf/api", true, "wf/api:latest"},
		{"127.0.0.1:5000/a/b/c:v1", true, "a/b/c:v1"},
		{"localhost:5000/wf/api@" + dgst, true, "wf/api@" + dgst},
		{"registry.example.com/wf/api:1.4.0@" + dgst, true, "wf/api:1.4.0@" + dgst},
		// Docker Hub short names keep Docker Hub's repository path.
		{"nginx:1.25", true, "library/nginx:1.25"},
		{"nginx", true, "library/nginx:latest"},
		{"nginx@" + dgst, true, "library/nginx@" + dgst},
		{"docker.io/bitnami/redis:7", true, "bitnami/redis:7"},
		{"index.docker.io/library/nginx:1.25", true, "library/nginx:1.25"},
		{"bitnami/redis:7", true, "bitnami/redis:7"},
		// Local names (spec names, archive tags) are kept as written.
		{"worker:1.4.0", false, "worker:1.4.0"},
		{"wf/worker", false, "wf/worker:latest"},
		{"worker@" + dgst, false, "worker@" + dgst},
		{"registry.example.com/wf/worker:1", false, "wf/worker:1"},
		{"docker.io/library/foo:1", false, "library/foo:1"},
	}
	for _, tt := range tests {
		got, err := ServedName(tt.ref, tt.hub)
		if err != nil || got != tt.want {
			t.Errorf("ServedName(%q, hub=%v) = %q, %v; want %q", tt.ref, tt.hub, got, err, tt.want)
		}
	}
	// go-containerregistry parses "wf/-api" and "a//b"; the registry's
	// grammar does not.
	for _, bad := range []string{"Upper/Case:1", "wf/api:bad tag", "", "wf/api@sha256:short", "wf/-api:1", "a//b:1"} {
		if got, err := ServedName(bad, false); err == nil {
			t.Errorf("ServedName(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzServedName checks that every name ServedName gives is one the
// appliance's registry serves (oci.ParseRefName, which the registry asks) and
// go-containerregistry parses, and that naming it again changes nothing.
func FuzzServedName(f *testing.F) {
	dgst := "sha256:" + strings.Repeat("ab", 32)
	for _, s := range []string{
		"registry.example.com/wf/api:1.4.0", "registry.example.com:5000/wf/api", "nginx", "nginx@" + dgst,
		"registry.example.com/wf/api:1.4.0@" + dgst, "worker:1.4.0", "wf/worker", "docker.io/library/foo:1",
		"localhost:5000/a/b/c:v1", "Upper/Case:1", "wf/api:bad tag", "", "wf/-api:1", "a//b:1",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, hub bool) {
		served, err := ServedName(s, hub)
		if err != nil {
			return
		}
		if _, err := oci.ParseRefName(served); err != nil {
			t.Fatalf("ServedName(%q, hub=%v) = %q, which the registry would not serve: %v", s, hub, served, err)
		}
		if _, err := name.ParseReference(served); err != nil {
			t.Fatalf("ServedName(%q, hub=%v) = %q: %v", s, hub, served, err)
		}
		// A served name has no registry host, unless its first component
		// looks like one, which naming it again would take for a host.
		if !hasRegistryHost(served) {
			if again, err := ServedName(served, false); err != nil || again != served {
				t.Fatalf("ServedName(%q) = %q, but ServedName(%q) = %q, %v", s, served, served, again, err)
			}
		}
	})
}
