package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"ferry/bundle/spec"
)

const sitesYAML = `replicas: 3
sites:
  self: eu-1
  listen: 0.0.0.0:8443
  peers:
    - {name: eu-2, region: eu, url: https://10.1.2.10:8443, priority: 2, weight: 1}
    - name: us-1
      region: us
      url: https://10.2.0.10:8443/
      priority: 3
      weight: 2
      clients: [10.2.0.0/16, "fd00::/8"]
  routing:
    api: {strategy: latency, health: {interval: 2s}}
    web:
      strategy: weighted
`

func TestParseSites(t *testing.T) {
	s, err := ParseSites([]byte(sitesYAML), "site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Sites{Self: "eu-1", Priority: 1, Weight: 1, Listen: "0.0.0.0:8443", Routing: map[string]*spec.Routing{
		"api": {Strategy: "latency", Health: &spec.SiteHealth{Interval: spec.Duration(2 * time.Second)}},
		"web": {Strategy: "weighted"}}, Source: Source{Kind: FromFile, Where: "site.yaml:2"}, Peers: []Peer{
		{Name: "eu-2", Region: "eu", URL: "https://10.1.2.10:8443", Priority: 2, Weight: 1},
		{Name: "us-1", Region: "us", URL: "https://10.2.0.10:8443", Priority: 3, Weight: 2, Clients: []string{"10.2.0.0/16", "fd00::/8"}},
	}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if s, err := ParseSites([]byte("replicas: 3\n"), "site.yaml"); s != nil || err != nil {
		t.Fatalf("no sites key: %v, %v", s, err)
	}
}

// TestParseSitesErrors: every refusal names the file, the line and the
// field, and all of them are reported at once.
func TestParseSitesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"not a mapping", "sites: [a]\n", []string{"site.yaml:1: sites: is a mapping"}},
		{"self missing", "sites:\n  peers: []\n", []string{"site.yaml:1: sites.self: is required"}},
		{"bad self", "sites:\n  self: EU_1\n", []string{"site.yaml:2: sites.self: \"EU_1\" is not a site name"}},
		{"self priority", "sites:\n  self: a\n  priority: x\n  listen: nowhere\n", []string{"site.yaml:3: sites.priority: \"x\" is not a whole number", "site.yaml:4: sites.listen: \"nowhere\" is not host:port"}},
		{"routing", "sites:\n  self: a\n  routing:\n    api: {strategy: nearest}\n    web: {colour: red}\n    Bad: {}\n    db: [x]\n", []string{
			"site.yaml:4: sites.routing.api.strategy: \"nearest\" is not a routing strategy",
			"site.yaml:5: sites.routing.web: ", "unknown field \"colour\"",
			"site.yaml:6: sites.routing.Bad: \"Bad\" is not a service name",
			"site.yaml:7: sites.routing.db: is a routing mapping"}},
		{"unknown field", "sites:\n  self: a\n  peer: []\n", []string{"site.yaml:3: sites.peer: is not a field"}},
		{"peer fields", "sites:\n  self: a\n  peers:\n    - name: b\n      url: http://x:1\n      priority: 0\n      weight: -1\n      clients: [10.0.0.1/8, nope]\n      colour: red\n",
			[]string{
				"site.yaml:5: sites.peers[0].url: \"http://x:1\" is not an https URL",
				"site.yaml:6: sites.peers[0].priority: \"0\" is not a whole number from 1",
				"site.yaml:7: sites.peers[0].weight: \"-1\"",
				"site.yaml:8: sites.peers[0].clients[0]: \"10.0.0.1/8\" has host bits set: write 10.0.0.0/8",
				"site.yaml:8: sites.peers[0].clients[1]: \"nope\" is not an address range",
				"site.yaml:9: sites.peers[0].colour: is not a field of a peer",
			}},
		{"required", "sites:\n  self: a\n  peers:\n    - {name: b}\n", []string{"sites.peers[0].url: is required", "sites.peers[0].priority: is required"}},
		{"duplicate", "sites:\n  self: a\n  peers:\n    - {name: b, url: https://x:1, priority: 2}\n    - {name: a, url: https://y:1, priority: 3}\n    - {name: b, url: https://z:1, priority: 4}\n",
			[]string{"site.yaml:5: sites.peers[1].name: \"a\" is also sites.self", "site.yaml:6: sites.peers[2].name: \"b\" is also sites.peers[0]"}},
		{"url path", "sites:\n  self: a\n  peers:\n    - {name: b, url: https://x:1/p, priority: 2}\n", []string{"has a path"}},
		{"url no port", "sites:\n  self: a\n  peers:\n    - {name: b, url: https://x, priority: 2}\n", []string{"has no port"}},
		{"url user", "sites:\n  self: a\n  peers:\n    - {name: b, url: https://u@x:1, priority: 2}\n", []string{"holds a user name"}},
		{"key twice", "sites:\n  self: a\n  peers:\n    - {name: b, name: c, url: https://x:1, priority: 2}\n", []string{"site.yaml: not YAML", "already defined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSites([]byte(tc.yaml), "site.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInput) {
				t.Errorf("%v is not ErrInput", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say %q", err, w)
				}
			}
		})
	}
}

// TestResolveSites: the sites key of a values file is not a variable, is
// stored with the revision, and is kept by a revision whose files do not
// give it.
func TestResolveSites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(sitesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := []spec.Variable{{Name: "replicas", Type: "int"}}
	c, err := Resolve(vars, Inputs{Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Sites == nil || c.Sites.Self != "eu-1" || len(c.Sites.Peers) != 2 {
		t.Fatalf("sites: %+v", c.Sites)
	}
	if v, _ := c.Lookup("replicas"); v.Value != "3" {
		t.Fatalf("replicas: %+v", v)
	}
	next, err := Resolve(vars, Inputs{Previous: c})
	if err != nil {
		t.Fatal(err)
	}
	if next.Sites == nil || next.Sites.Self != "eu-1" || next.Sites.Source.Kind != FromPrevious || !strings.Contains(next.Sites.Source.Where, "revision 1") {
		t.Fatalf("kept sites: %+v", next.Sites)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("sites:\n  self: a\n  peers: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(vars, Inputs{Files: []string{bad}}); err == nil || !strings.Contains(err.Error(), "bad.yaml:3: sites.peers") {
		t.Fatalf("bad sites: %v", err)
	}
}

// FuzzParseSites feeds ParseSites untrusted values files: it never
// panics, and what it accepts holds only valid names, https URLs and
// masked ranges, within the limits.
func FuzzParseSites(f *testing.F) {
	for _, s := range []string{sitesYAML, "", "sites:", "sites: {self: a, peers: [{name: b, url: 'https://[::1]:1', priority: 1, clients: ['::/0']}]}", "sites: &a {self: *a}", "- sites"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		s, err := ParseSites([]byte(data), "f")
		if err != nil || s == nil {
			return
		}
		if !siteNameRE.MatchString(s.Self) || len(s.Peers) > MaxPeers {
			t.Fatalf("accepted %+v", s)
		}
		for _, p := range s.Peers {
			if !siteNameRE.MatchString(p.Name) || !strings.HasPrefix(p.URL, "https://") || p.Priority < 1 || len(p.Clients) > MaxPeerClients {
				t.Fatalf("accepted peer %+v", p)
			}
		}
	})
}
