package bundle

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestImageServedName(t *testing.T) {
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
		got, err := imageServedName(tt.ref, tt.hub)
		if err != nil || got != tt.want {
			t.Errorf("imageServedName(%q, hub=%v) = %q, %v; want %q", tt.ref, tt.hub, got, err, tt.want)
		}
	}
	for _, bad := range []string{"Upper/Case:1", "wf/api:bad tag", "", "wf/api@sha256:short"} {
		if got, err := imageServedName(bad, false); err == nil {
			t.Errorf("imageServedName(%q) = %q, want an error", bad, got)
		}
	}
}

func TestImageFallbackName(t *testing.T) {
	for _, tt := range []struct{ base, tag, digest, want string }{
		{"worker", "", "", "worker:latest"},
		{"worker", "1.4.0", "", "worker:1.4.0"},
		{"worker", "", "sha256:" + strings.Repeat("0", 64), "worker@sha256:" + strings.Repeat("0", 64)},
	} {
		got, err := imageFallbackName(tt.base, tt.tag, tt.digest)
		if err != nil || got != tt.want {
			t.Errorf("imageFallbackName(%q, %q, %q) = %q, %v; want %q", tt.base, tt.tag, tt.digest, got, err, tt.want)
		}
	}
	if _, err := imageFallbackName("Worker_Images", "", ""); err == nil || !strings.Contains(err.Error(), "set name:") {
		t.Errorf("invalid directory name: err %v, want a hint to set name:", err)
	}
}

func TestImageSplitSource(t *testing.T) {
	for _, tt := range []struct{ src, transport, rest string }{
		{"registry.example.com/wf/api:1.4.0", imageTransportDocker, "registry.example.com/wf/api:1.4.0"},
		{"registry.example.com:5000/wf/api", imageTransportDocker, "registry.example.com:5000/wf/api"},
		{"nginx:1.25", imageTransportDocker, "nginx:1.25"},
		{"nginx", imageTransportDocker, "nginx"},
		{"docker://nginx:1.25", imageTransportDocker, "nginx:1.25"},
		{"oci:images/worker:1.4.0", imageTransportOCI, "images/worker:1.4.0"},
		{"oci:images/worker", imageTransportOCI, "images/worker"},
		{"docker-archive:images/legacy.tar", imageTransportArchive, "images/legacy.tar"},
		{"oci-archive:images/x.tar", "oci-archive", "images/x.tar"},
	} {
		transport, rest := splitImageSource(tt.src)
		if transport != tt.transport || rest != tt.rest {
			t.Errorf("splitImageSource(%q) = %q, %q; want %q, %q", tt.src, transport, rest, tt.transport, tt.rest)
		}
	}
}

func TestImagePlatforms(t *testing.T) {
	for _, bad := range []string{"linux", "linux/", "/amd64", "linux/arm/", "linux/arm/v7/x"} {
		if _, err := parseImagePlatforms([]string{bad}); err == nil {
			t.Errorf("parseImagePlatforms(%q) accepted", bad)
		}
	}
	want, err := parseImagePlatforms([]string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		have v1.Platform
		ok   bool
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, true},
		{v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, true},
		{v1.Platform{OS: "windows", Architecture: "amd64"}, false},
		{v1.Platform{OS: "unknown", Architecture: "unknown"}, false},
	} {
		if got := imagePlatformWanted(&tt.have, want); got != tt.ok {
			t.Errorf("imagePlatformWanted(%s) = %v, want %v", imagePlatformString(&tt.have), got, tt.ok)
		}
	}
	if imagePlatformWanted(nil, want) {
		t.Error("a manifest without platform matched")
	}
}
