package bundle

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// fuzzServedNameRE is a reference the appliance's registry serves, in the
// grammar of the distribution specification that installer/registry
// enforces: a repository path, then a tag, a digest, or both.
var fuzzServedNameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` +
	`((:[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})(@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?|@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))$`)

// fuzzServable reports whether the appliance's registry serves an image
// named s: a name in its grammar, with a repository path of at most 255
// bytes.
func fuzzServable(s string) bool {
	repo, _, _ := strings.Cut(s, "@")
	if i := strings.LastIndex(repo, ":"); i >= 0 {
		repo = repo[:i]
	}
	return len(repo) <= 255 && fuzzServedNameRE.MatchString(s)
}

// FuzzImageName checks the naming of images: the name imageServedName
// gives is one the appliance's registry serves and go-containerregistry
// parses, and naming it again changes nothing; a spec's image source
// splits into a transport and a rest that make up the source again.
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
	f.Fuzz(func(t *testing.T, s string, hub bool) {
		transport, rest := splitImageSource(s)
		switch transport {
		case imageTransportDocker:
			if s != rest && s != imageTransportDocker+rest {
				t.Fatalf("splitImageSource(%q) = %q, %q", s, transport, rest)
			}
		default:
			if s != transport+":"+rest {
				t.Fatalf("splitImageSource(%q) = %q, %q", s, transport, rest)
			}
		}

		served, err := imageServedName(s, hub)
		if err != nil {
			return
		}
		if !fuzzServable(served) {
			t.Fatalf("imageServedName(%q, hub=%v) = %q, which the registry would not serve", s, hub, served)
		}
		if _, err := name.ParseReference(served); err != nil {
			t.Fatalf("imageServedName(%q, hub=%v) = %q: %v", s, hub, served, err)
		}
		// A served name has no registry host, unless its first component
		// looks like one, which naming it again would take for a host.
		if !imageHasRegistryHost(served) {
			if again, err := imageServedName(served, false); err != nil || again != served {
				t.Fatalf("imageServedName(%q) = %q, but imageServedName(%q) = %q, %v", s, served, served, again, err)
			}
		}
	})
}
