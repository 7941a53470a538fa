package image

import (
	"strings"
	"testing"
)

// FuzzImageName checks that a spec's image source splits into a transport
// and a rest that make up the source again. The names images are served
// under are ServedName's, fuzzed by FuzzServedName.
func FuzzImageName(f *testing.F) {
	dgst := "sha256:" + strings.Repeat("ab", 32)
	for _, s := range []string{
		"registry.example.com/wf/api:1.4.0", "registry.example.com:5000/wf/api", "nginx", "nginx@" + dgst,
		"registry.example.com/wf/api:1.4.0@" + dgst, "worker:1.4.0", "wf/worker", "docker.io/library/foo:1",
		"localhost:5000/a/b/c:v1", "Upper/Case:1", "wf/api:bad tag", "", "docker://nginx:1.25",
		"oci:images/worker:1.4.0", "docker-archive:images/legacy.tar", "oci-archive:x.tar",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, _ bool) {
		transport, rest := splitSource(s)
		switch transport {
		case transportDocker:
			if s != rest && s != transportDocker+rest {
				t.Fatalf("splitSource(%q) = %q, %q", s, transport, rest)
			}
		default:
			if s != transport+":"+rest {
				t.Fatalf("splitSource(%q) = %q, %q", s, transport, rest)
			}
		}
	})
}
