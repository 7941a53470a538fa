package push

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, host, prefix string
		plainHTTP        bool
	}{
		{"registry.local:5000", "registry.local:5000", "", false},
		{"registry.local:5000/prefix", "registry.local:5000", "prefix", false},
		{"registry.local/a/b/", "registry.local", "a/b", false},
		{"registry/team.a", "registry", "team.a", false},
		{"localhost:5000/x", "localhost:5000", "x", true},
		{"localhost", "localhost", "", true},
		{"127.0.0.1:5000", "127.0.0.1:5000", "", true},
		{"[::1]:5000/p", "[::1]:5000", "p", true},
		{"10.0.0.5:5000", "10.0.0.5:5000", "", false},
	} {
		got, err := parseTarget(tc.in, false)
		if err != nil {
			t.Errorf("parseTarget(%q): %v", tc.in, err)
			continue
		}
		if got.registry.Name() != tc.host || got.prefix != tc.prefix || got.plainHTTP != tc.plainHTTP {
			t.Errorf("parseTarget(%q) = host %q prefix %q plainHTTP %v, want %q %q %v",
				tc.in, got.registry.Name(), got.prefix, got.plainHTTP, tc.host, tc.prefix, tc.plainHTTP)
		}
	}
	if got, err := parseTarget("registry.local:5000", true); err != nil || !got.plainHTTP {
		t.Errorf("parseTarget with plain HTTP asked for: %+v, %v", got, err)
	}
	for _, in := range []string{"", "/prefix", "https://registry.local", "registry.local/Upper", "registry.local/a//b", "registry.local/-a", "bad host/x"} {
		if _, err := parseTarget(in, false); err == nil {
			t.Errorf("parseTarget(%q) succeeded, want an error", in)
		}
	}
}

func TestTargetRef(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := parseTarget("registry.local:5000/pre", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ image, want string }{
		{"wf/api:1.4.0", "registry.local:5000/pre/wf/api:1.4.0"},
		{"api:v1", "registry.local:5000/pre/api:v1"},
		{"wf/api@" + digest, "registry.local:5000/pre/wf/api@" + digest},
		{"wf/api:1.4.0@" + digest, "registry.local:5000/pre/wf/api:1.4.0"},
	} {
		ref, err := tgt.ref(tc.image, h)
		if err != nil {
			t.Errorf("ref(%q): %v", tc.image, err)
			continue
		}
		if ref.String() != tc.want {
			t.Errorf("ref(%q) = %s, want %s", tc.image, ref, tc.want)
		}
	}
	other := "sha256:" + strings.Repeat("f", 64)
	for _, image := range []string{"wf/api", "WF/api:1", "wf/api:", "wf/api:bad tag", "wf/api@sha256:abc", "wf/api@" + other, strings.Repeat("a", 300) + ":1"} {
		if ref, err := tgt.ref(image, h); err == nil {
			t.Errorf("ref(%q) = %s, want an error", image, ref)
		}
	}
}
