package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"ferry/bundle/spec"
	"ferry/internal/yamlnode"
)

// SitesKey is the reserved key of a values file that lists this site and
// its peers: which appliances exist is site configuration, never part of
// the signed bundle, so it is given and kept like the values of variables.
const SitesKey = "sites"

// DefaultSitesListen is where a site listens for its peers unless the
// sites section says otherwise.
const DefaultSitesListen = ":8443"

// Limits of a sites section: a handful of data centres, not a fleet.
const (
	MaxPeers       = 32
	MaxPeerClients = 256
	maxSiteNameLen = 63
)

// Sites is this appliance's name among its sites and the peers that
// serve the same services elsewhere.
type Sites struct {
	Self string `json:"self"`
	// Priority is this site's place in the failover order, lowest
	// first; 1 unless given. A standby site gives a peer a lower one, so
	// that its router sends traffic there while that peer is healthy.
	Priority int `json:"priority"`
	// Listen is the host:port of this site's listener for its peers
	// (mutual TLS); empty is DefaultSitesListen.
	Listen string `json:"listen,omitempty"`
	Peers  []Peer `json:"peers,omitempty"`
	// Weight is this site's share under the weighted strategy, from 1;
	// 1 unless given.
	Weight int `json:"weight,omitempty"`
	// Routing sets a service's routing across sites at this site, in
	// place of the bundle's (the whole of it), by service name.
	Routing map[string]*spec.Routing `json:"routing,omitempty"`
	// Source is where the sites section was given: the values file and
	// line, or the revision it was kept from.
	Source Source `json:"source"`
}

// Peer is another site's router, as this site reaches it.
type Peer struct {
	Name   string `json:"name"`
	Region string `json:"region,omitempty"`
	// URL is the peer router's https://host:port.
	URL string `json:"url"`
	// Priority orders sites for failover, lowest first.
	Priority int `json:"priority"`
	// Weight is the peer's share under the weighted strategy.
	Weight int `json:"weight"`
	// Clients are the address ranges whose requests the geographic
	// strategy sends to this peer.
	Clients []string `json:"clients,omitempty"`
}

// siteNameRE is the syntax of a site and region name: it appears in
// metrics labels, audit entries and certificate names.
var siteNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ParseSites reads the sites section of the values file text data, named
// name in errors. It returns nil when the file has no sites key. Every
// problem is reported at once, each naming name:line and the field.
func ParseSites(data []byte, name string) (*Sites, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, inputError(name, "not YAML: %v", firstLine(err.Error()))
	}
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		var pairs []*ast.MappingValueNode
		switch n := yamlnode.Unwrap(doc.Body).(type) {
		case *ast.MappingNode:
			pairs = n.Values
		case *ast.MappingValueNode:
			pairs = []*ast.MappingValueNode{n}
		}
		for _, mv := range pairs {
			if key, ok := yamlnode.Text(mv.Key); ok && key == SitesKey {
				return parseSitesNode(mv, name)
			}
		}
	}
	return nil, nil
}

// readSitesFile reads the sites section of a --values file.
func readSitesFile(path string) (*Sites, error) {
	data, err := readBoundedFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSites(data, path)
}

// resolveSites is the sites section of a new configuration: the last
// --values file that has one, else the one in force.
func resolveSites(files []string, previous *Config) (*Sites, error) {
	var out *Sites
	for _, f := range files {
		s, err := readSitesFile(f)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = s
		}
	}
	if out == nil && previous != nil && previous.Sites != nil {
		kept := *previous.Sites
		if kept.Source.Kind != FromPrevious {
			kept.Source = Source{Kind: FromPrevious, Where: fmt.Sprintf("revision %d, %s", previous.Revision, kept.Source)}
		}
		out = &kept
	}
	return out, nil
}

// sitesParser collects the problems of one sites section.
type sitesParser struct {
	name string
	errs []error
}

func (p *sitesParser) errorf(n ast.Node, field, format string, args ...any) {
	p.errs = append(p.errs, inputError(fmt.Sprintf("%s:%d", p.name, lineOf(n)), "%s: %s", field, fmt.Sprintf(format, args...)))
}

func lineOf(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func parseSitesNode(mv *ast.MappingValueNode, name string) (*Sites, error) {
	p := &sitesParser{name: name}
	s := &Sites{Priority: 1, Weight: 1, Source: Source{Kind: FromFile, Where: fmt.Sprintf("%s:%d", name, lineOf(mv.Key))}}
	pairs, ok := p.mapping(mv.Value, mv.Key, SitesKey, "a mapping with self and peers")
	if !ok {
		return nil, errors.Join(p.errs...)
	}
	var selfNode ast.Node = mv.Key
	var peerNodes []ast.Node
	for _, kv := range pairs {
		key, _ := yamlnode.Text(kv.Key)
		switch key {
		case "self":
			selfNode = kv.Value
			s.Self = p.name1(kv.Value, "sites.self")
		case "priority":
			s.Priority = p.int1(kv.Value, "sites.priority", 1, 1000)
		case "listen":
			s.Listen = p.listen(kv.Value, "sites.listen")
		case "weight":
			s.Weight = p.int1(kv.Value, "sites.weight", 1, 1000)
		case "routing":
			s.Routing = p.routing(kv.Value, kv.Key)
		case "peers":
			seq, ok := yamlnode.Unwrap(kv.Value).(*ast.SequenceNode)
			if !ok {
				if _, null := yamlnode.Unwrap(kv.Value).(*ast.NullNode); !null {
					p.errorf(kv.Value, "sites.peers", "is a list of peer sites, such as - {name: eu-2, url: https://10.1.2.10:8443, priority: 2}")
				}
				continue
			}
			if len(seq.Values) > MaxPeers {
				p.errorf(seq, "sites.peers", "has %d peers: at most %d", len(seq.Values), MaxPeers)
				continue
			}
			for i, n := range seq.Values {
				s.Peers = append(s.Peers, p.peer(n, fmt.Sprintf("sites.peers[%d]", i)))
				peerNodes = append(peerNodes, n)
			}
		default:
			p.errorf(kv.Key, "sites."+key, "is not a field of sites: use self, priority, weight, listen, peers and routing")
		}
	}
	if s.Self == "" && len(p.errs) == 0 {
		p.errorf(selfNode, "sites.self", "is required: this site's name, such as self: eu-1")
	}
	seen := map[string]int{s.Self: -1}
	for i, peer := range s.Peers {
		if peer.Name == "" {
			continue
		}
		if j, dup := seen[peer.Name]; dup {
			what := "sites.self"
			if j >= 0 {
				what = fmt.Sprintf("sites.peers[%d]", j)
			}
			p.errorf(peerNodes[i], fmt.Sprintf("sites.peers[%d].name", i), "%q is also %s: site names are unique", peer.Name, what)
			continue
		}
		seen[peer.Name] = i
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return s, nil
}

// mapping returns the pairs of a mapping node, refusing anything else
// and a key given twice.
func (p *sitesParser) mapping(n, at ast.Node, field, want string) ([]*ast.MappingValueNode, bool) {
	var pairs []*ast.MappingValueNode
	switch m := yamlnode.Unwrap(n).(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		if n != nil {
			at = n
		}
		p.errorf(at, field, "is %s", want)
		return nil, false
	}
	seen := map[string]bool{}
	out := pairs[:0:0]
	for _, kv := range pairs {
		key, ok := yamlnode.Text(kv.Key)
		if !ok {
			p.errorf(kv.Key, field, "a key is not a name")
			continue
		}
		if seen[key] {
			p.errorf(kv.Key, field+"."+key, "is given twice")
			continue
		}
		seen[key] = true
		out = append(out, kv)
	}
	return out, true
}

// name1 reads a site or region name.
func (p *sitesParser) name1(n ast.Node, field string) string {
	v, ok := yamlnode.Text(n)
	switch {
	case !ok:
		p.errorf(n, field, "is a name, not a list or a mapping")
	case v == "":
		p.errorf(n, field, "is empty: give a name such as eu-1")
	case len(v) > maxSiteNameLen || !siteNameRE.MatchString(v):
		p.errorf(n, field, "%q is not a site name: use lowercase letters, digits and '-', at most %d characters", v, maxSiteNameLen)
	default:
		return v
	}
	return ""
}

// peer reads one element of peers.
func (p *sitesParser) peer(n ast.Node, field string) Peer {
	peer := Peer{Weight: 1}
	pairs, ok := p.mapping(n, n, field, "a mapping with name, url and priority")
	if !ok {
		return peer
	}
	has := map[string]bool{}
	for _, kv := range pairs {
		key, _ := yamlnode.Text(kv.Key)
		f := field + "." + key
		has[key] = true
		switch key {
		case "name":
			peer.Name = p.name1(kv.Value, f)
		case "region":
			peer.Region = p.name1(kv.Value, f)
		case "url":
			peer.URL = p.url(kv.Value, f)
		case "priority":
			peer.Priority = p.int1(kv.Value, f, 1, 1000)
		case "weight":
			peer.Weight = p.int1(kv.Value, f, 0, 1000)
		case "clients":
			peer.Clients = p.clients(kv.Value, f)
		default:
			p.errorf(kv.Key, f, "is not a field of a peer: use name, region, url, priority, weight and clients")
		}
	}
	for _, req := range []string{"name", "url", "priority"} {
		if !has[req] {
			p.errorf(n, field+"."+req, "is required")
		}
	}
	return peer
}

func (p *sitesParser) url(n ast.Node, field string) string {
	v, ok := yamlnode.Text(n)
	if !ok {
		p.errorf(n, field, "is a URL, not a list or a mapping")
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		p.errorf(n, field, "%q is not an https URL of a peer's router, such as https://10.1.2.10:8443", v)
	case u.User != nil:
		p.errorf(n, field, "%q holds a user name: peers authenticate by certificate", v)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		p.errorf(n, field, "%q has a path, query or fragment: give only https://host:port", v)
	case u.Port() == "":
		p.errorf(n, field, "%q has no port: give https://host:port", v)
	default:
		if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
			p.errorf(n, field, "%q has no valid port", v)
			return ""
		}
		return "https://" + u.Host
	}
	return ""
}

func (p *sitesParser) listen(n ast.Node, field string) string {
	v, ok := yamlnode.Text(n)
	host, port, err := net.SplitHostPort(v)
	if !ok || err != nil {
		p.errorf(n, field, "%q is not host:port, such as 0.0.0.0:8443", v)
		return ""
	}
	if pn, err := strconv.Atoi(port); err != nil || pn < 1 || pn > 65535 {
		p.errorf(n, field, "%q has no valid port", v)
		return ""
	}
	if _, err := netip.ParseAddr(host); host != "" && err != nil {
		p.errorf(n, field, "%q: the host is an IP address (or empty for all)", v)
		return ""
	}
	return v
}

// routing reads the routing set at this site per service: each a
// routing mapping as in ferry.yaml, checked as there.
func (p *sitesParser) routing(n, at ast.Node) map[string]*spec.Routing {
	pairs, ok := p.mapping(n, at, "sites.routing", "a mapping of service names to routing, such as api: {strategy: latency}")
	if !ok {
		return nil
	}
	out := map[string]*spec.Routing{}
	for _, kv := range pairs {
		name, _ := yamlnode.Text(kv.Key)
		f := "sites.routing." + name
		if len(name) > maxSiteNameLen || !siteNameRE.MatchString(name) {
			p.errorf(kv.Key, f, "%q is not a service name", name)
			continue
		}
		var r spec.Routing
		switch yamlnode.Unwrap(kv.Value).(type) {
		case *ast.MappingNode, *ast.MappingValueNode:
		default:
			p.errorf(kv.Value, f, "is a routing mapping, such as {strategy: failover, health: {interval: 1s}}")
			continue
		}
		if err := yaml.NodeToValue(kv.Value, &r, yaml.Strict()); err != nil {
			p.errorf(kv.Value, f, "%s", firstLine(yaml.FormatError(err, false, false)))
			continue
		}
		bad := false
		for _, pr := range r.Problems() {
			p.errorf(kv.Value, f+pr.Field, "%s", pr.Msg)
			bad = true
		}
		if !bad {
			out[name] = &r
		}
	}
	return out
}

func (p *sitesParser) int1(n ast.Node, field string, lo, hi int) int {
	v, ok := yamlnode.Text(n)
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if !ok || err != nil || i < lo || i > hi {
		p.errorf(n, field, "%q is not a whole number from %d to %d", v, lo, hi)
		return 0
	}
	return i
}

func (p *sitesParser) clients(n ast.Node, field string) []string {
	s, ok := yamlnode.Unwrap(n).(*ast.SequenceNode)
	if !ok {
		p.errorf(n, field, "is a list of address ranges, such as [10.2.0.0/16]")
		return nil
	}
	if len(s.Values) > MaxPeerClients {
		p.errorf(n, field, "has %d ranges: at most %d", len(s.Values), MaxPeerClients)
		return nil
	}
	var out []string
	for i, e := range s.Values {
		f := fmt.Sprintf("%s[%d]", field, i)
		v, ok := yamlnode.Text(e)
		pfx, err := netip.ParsePrefix(v)
		switch {
		case !ok || err != nil:
			p.errorf(e, f, "%q is not an address range: write it like 10.2.0.0/16", v)
		case pfx != pfx.Masked():
			p.errorf(e, f, "%q has host bits set: write %s", v, pfx.Masked())
		default:
			out = append(out, pfx.String())
		}
	}
	return out
}
