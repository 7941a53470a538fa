package image

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestImageFallbackName(t *testing.T) {
	for _, tt := range []struct{ base, tag, digest, want string }{
		{"worker", "", "", "worker:latest"},
		{"worker", "1.4.0", "", "worker:1.4.0"},
		{"worker", "", "sha256:" + strings.Repeat("0", 64), "worker@sha256:" + strings.Repeat("0", 64)},
	} {
		got, err := fallbackName(tt.base, tt.tag, tt.digest)
		if err != nil || got != tt.want {
			t.Errorf("fallbackName(%q, %q, %q) = %q, %v; want %q", tt.base, tt.tag, tt.digest, got, err, tt.want)
		}
	}
	if _, err := fallbackName("Worker_Images", "", ""); err == nil || !strings.Contains(err.Error(), "set name:") {
		t.Errorf("invalid directory name: err %v, want a hint to set name:", err)
	}
}

func TestImageSplitSource(t *testing.T) {
	for _, tt := range []struct{ src, transport, rest string }{
		{"registry.example.com/wf/api:1.4.0", transportDocker, "registry.example.com/wf/api:1.4.0"},
		{"registry.example.com:5000/wf/api", transportDocker, "registry.example.com:5000/wf/api"},
		{"nginx:1.25", transportDocker, "nginx:1.25"},
		{"nginx", transportDocker, "nginx"},
		{"docker://nginx:1.25", transportDocker, "nginx:1.25"},
		{"oci:images/worker:1.4.0", transportOCI, "images/worker:1.4.0"},
		{"oci:images/worker", transportOCI, "images/worker"},
		{"docker-archive:images/legacy.tar", transportArchive, "images/legacy.tar"},
		{"oci-archive:images/x.tar", "oci-archive", "images/x.tar"},
	} {
		transport, rest := splitSource(tt.src)
		if transport != tt.transport || rest != tt.rest {
			t.Errorf("splitSource(%q) = %q, %q; want %q, %q", tt.src, transport, rest, tt.transport, tt.rest)
		}
	}
}

func TestImagePlatforms(t *testing.T) {
	for _, bad := range []string{"linux", "linux/", "/amd64", "linux/arm/", "linux/arm/v7/x"} {
		if _, err := parsePlatforms([]string{bad}); err == nil {
			t.Errorf("parsePlatforms(%q) accepted", bad)
		}
	}
	want, err := parsePlatforms([]string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8"})
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
		if got := platformWanted(&tt.have, want); got != tt.ok {
			t.Errorf("platformWanted(%s) = %v, want %v", platformString(&tt.have), got, tt.ok)
		}
	}
	if platformWanted(nil, want) {
		t.Error("a manifest without platform matched")
	}
}
