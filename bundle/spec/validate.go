package spec

import (
	"container/heap"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/goccy/go-yaml/ast"

	"ferry/internal/yamlnode"
)

var (
	// specNameRE is the syntax of bundle, component and service names: they
	// become file and directory names on the appliance.
	specNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	// platformRE is os/arch[/variant] as in OCI image indexes.
	platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	// ociRefNameRE is the org.opencontainers.image.ref.name grammar of the
	// OCI image layout.
	ociRefNameRE = regexp.MustCompile(`^[A-Za-z0-9]+(([-._:@+]|--)[A-Za-z0-9]+)*$`)
	// envNameRE is a portable environment variable name.
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// accountNameRE is a portable user or group name (useradd's default
	// NAME_REGEX, without the trailing '$' of machine accounts); numeric
	// ids are not accepted, as they mean different accounts on different
	// hosts.
	accountNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
)

const maxSpecNameLen = 63

// Limits of the licence section, checked again on the untrusted manifest.
const (
	MaxLicenseKeys    = 8
	MaxLicenseKeySize = 64 << 10
)

// maxAccountNameLen is the longest user or group name useradd accepts.
const maxAccountNameLen = 32

// Rollout strategies.
const (
	StrategyCanary    = "canary"
	StrategyBlueGreen = "blue-green"
)

// specValidator collects every problem of a decoded spec, with field paths
// and lines, so that a vendor fixes a spec in one round.
type specValidator struct {
	file    string
	dir     string // Spec.Dir
	realDir string // Spec.Dir with symlinks resolved; empty when unresolvable
	ix      *specIndex
	src     Sources
	scope   refScope
	errs    []*Error
}

func (v *specValidator) errorf(field, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.ix.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// validateSpec checks everything about s that decoding did not: names,
// versions, references between components, and every path against the
// spec's directory. It returns nil, one *Error, or several joined.
func validateSpec(s *Spec, file string, ix *specIndex, src Sources) error {
	v := &specValidator{file: file, dir: s.Dir, ix: ix, src: src}
	if resolved, err := filepath.EvalSymlinks(s.Dir); err == nil {
		v.realDir = resolved
	}
	v.header(s)
	v.metadata(&s.Metadata)
	v.license(s.License)
	v.variables(s.Variables)
	v.scope = newRefScope(s)
	v.components(s.Components)
	if len(v.errs) == 0 {
		return nil
	}
	sortSpecErrors(v.errs)
	if len(v.errs) == 1 {
		return v.errs[0]
	}
	errs := make([]error, len(v.errs))
	for i, e := range v.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func (v *specValidator) header(s *Spec) {
	switch s.APIVersion {
	case APIVersion:
	case "":
		v.errorf("apiVersion", "is required: write apiVersion: %s", APIVersion)
	default:
		v.errorf("apiVersion", "%q is not supported: this ferry reads apiVersion %s", s.APIVersion, APIVersion)
	}
	switch s.Kind {
	case Kind:
	case "":
		v.errorf("kind", "is required: write kind: %s", Kind)
	default:
		v.errorf("kind", "%q is not supported: write kind: %s", s.Kind, Kind)
	}
}

func (v *specValidator) metadata(m *Metadata) {
	v.name("metadata.name", m.Name)
	switch m.Version {
	case "":
		v.errorf("metadata.version", "is required: a semantic version such as 1.4.0")
	default:
		if _, err := semver.StrictNewVersion(m.Version); err != nil {
			v.errorf("metadata.version", "%q is not a semantic version: write MAJOR.MINOR.PATCH, such as 1.4.0, without a leading \"v\"", m.Version)
		}
	}
	// The decoder reads several time layouts; the spec promises RFC 3339,
	// so the text as written is checked.
	if n := v.ix.node("metadata.expires"); n != nil {
		text, ok := yamlnode.Text(n)
		if ok && text != "" {
			if _, err := time.Parse(time.RFC3339, text); err != nil {
				v.errorf("metadata.expires", "%q is not an RFC 3339 time: write it like 2027-12-31T00:00:00Z", text)
			}
		}
	}
}

// license checks the licence section: each key file must be a public key
// ferry can verify licences with (never a private key).
func (v *specValidator) license(l *License) {
	if l == nil {
		return
	}
	if len(l.Keys) == 0 {
		v.errorf("license.keys", "is required: the public key file(s) of the licence signer, such as keys/license.pub")
		return
	}
	if len(l.Keys) > MaxLicenseKeys {
		v.errorf("license.keys", "%d keys, more than the %d allowed", len(l.Keys), MaxLicenseKeys)
		return
	}
	for i, k := range l.Keys {
		f := fmt.Sprintf("license.keys[%d]", i)
		resolved, ok := v.path(f, k, specFile)
		if !ok {
			continue
		}
		data, err := os.ReadFile(resolved)
		if err != nil {
			v.errorf(f, "%q: %v", k, err)
			continue
		}
		if len(data) > MaxLicenseKeySize {
			v.errorf(f, "%q: %d bytes, more than the %d allowed for a public key", k, len(data), MaxLicenseKeySize)
			continue
		}
		if v.src.PublicKey == nil {
			continue
		}
		if err := v.src.PublicKey(data); err != nil {
			v.errorf(f, "%q is not a public key ferry can use: %v", k, err)
		}
	}
}

// name checks a bundle, component or service name.
func (v *specValidator) name(field, s string) bool {
	if err := CheckName(s); err != nil {
		v.errorf(field, "%v", err)
		return false
	}
	return true
}

func (v *specValidator) components(cs []Component) {
	if len(cs) == 0 {
		v.errorf("components", "at least one component is required")
		return
	}
	index := make(map[string]int, len(cs))
	for i, c := range cs {
		f := fmt.Sprintf("components[%d].name", i)
		if !v.name(f, c.Name) {
			continue
		}
		if j, dup := index[c.Name]; dup {
			v.errorf(f, "duplicate component %q (also components[%d]): give each component its own name", c.Name, j)
			continue
		}
		index[c.Name] = i
	}

	// graph keeps the valid part of the dependency graph, so that a cycle is
	// found, and named, even when other dependencies are wrong.
	graph := make([]Component, 0, len(cs))
	for i, c := range cs {
		f := fmt.Sprintf("components[%d].dependsOn", i)
		seen := make(map[string]bool)
		var deps []string
		for j, d := range c.DependsOn {
			df := fmt.Sprintf("%s[%d]", f, j)
			_, known := index[d]
			switch {
			case d == c.Name:
				v.errorf(df, "component %q depends on itself: remove it from dependsOn", d)
			case !known:
				v.errorf(df, "unknown component %q: dependsOn names other components of this spec", d)
			case seen[d]:
				v.errorf(df, "%q is listed twice", d)
			default:
				deps = append(deps, d)
			}
			seen[d] = true
		}
		if j, ok := index[c.Name]; ok && j == i {
			graph = append(graph, Component{Name: c.Name, DependsOn: deps})
		}
	}
	if _, cycle, err := orderComponents(graph); err == nil && cycle != nil {
		v.errorf(fmt.Sprintf("components[%d].dependsOn", index[cycle[0]]),
			"dependency cycle %s: remove one of these dependencies", strings.Join(cycle, " -> "))
	}

	dests := make(map[string]string)    // file dest -> field
	services := make(map[string]string) // service name -> field
	for i := range cs {
		v.component(fmt.Sprintf("components[%d]", i), &cs[i], dests, services)
	}
	v.destConflicts(dests)
}

func (v *specValidator) component(f string, c *Component, dests, services map[string]string) {
	if len(c.Images) == 0 && len(c.Migrations) == 0 && len(c.Files) == 0 && len(c.Charts) == 0 && len(c.Services) == 0 {
		v.errorf(f, "component %q has nothing to install: add images, migrations, files, charts or services", c.Name)
	}
	platforms := make(map[string]bool)
	for i, p := range c.Platforms {
		pf := fmt.Sprintf("%s.platforms[%d]", f, i)
		switch {
		case !platformRE.MatchString(p):
			v.errorf(pf, "%q is not a platform: write os/arch[/variant], such as linux/amd64 or linux/arm/v7", p)
		case platforms[p]:
			v.errorf(pf, "%q is listed twice", p)
		}
		platforms[p] = true
	}
	for i, im := range c.Images {
		v.image(fmt.Sprintf("%s.images[%d]", f, i), im)
	}
	databases := make(map[string]string)
	for i, m := range c.Migrations {
		mf := fmt.Sprintf("%s.migrations[%d]", f, i)
		if err := CheckDatabaseName(m.Database); err != nil {
			v.errorf(mf+".database", "%v", err)
		} else if prev, dup := databases[m.Database]; dup {
			v.errorf(mf+".database", "database %q already has migrations in %s: keep one directory per database", m.Database, prev)
		} else {
			databases[m.Database] = mf
		}
		if p, ok := v.path(mf+".path", m.Path, specDir); ok {
			if err := v.src.check(v.src.Migrations, p); err != nil {
				v.errorf(mf+".path", "%s", specRelMessage(err, p, m.Path))
			}
		}
	}
	for i, fl := range c.Files {
		v.fileSpec(fmt.Sprintf("%s.files[%d]", f, i), fl, dests)
	}
	for i, ch := range c.Charts {
		cf := fmt.Sprintf("%s.charts[%d]", f, i)
		if p, ok := v.path(cf+".path", ch.Path, specDirOrFile); ok {
			if err := v.src.check(v.src.Chart, p); err != nil {
				v.errorf(cf+".path", "%s", specRelMessage(err, p, ch.Path))
			}
		}
		for j, vf := range ch.Values {
			vfield := cf + ".values"
			if len(ch.Values) > 1 {
				vfield = fmt.Sprintf("%s[%d]", vfield, j)
			}
			if resolved, ok := v.path(vfield, vf, specFile); ok {
				v.valuesFile(vfield, resolved, vf)
			}
		}
		if ch.Namespace != "" {
			if err := CheckNamespace(ch.Namespace); err != nil {
				v.errorf(cf+".namespace", "%s", err)
			}
		}
		if ch.Release != "" {
			if err := CheckReleaseName(ch.Release); err != nil {
				v.errorf(cf+".release", "%s", err)
			}
		}
	}
	for i := range c.Services {
		v.service(fmt.Sprintf("%s.services[%d]", f, i), &c.Services[i], services)
	}
	for i, ck := range c.Checks {
		v.check(fmt.Sprintf("%s.checks[%d]", f, i), ck)
	}
}

// image checks an image source and the name it is served under.
func (v *specValidator) image(f string, im Image) {
	src := im.Source
	switch {
	case src == "":
		v.errorf(f, "source is required: a registry reference, oci:DIR[:REF] or docker-archive:FILE")
	case strings.HasPrefix(src, "oci:"):
		dir, ref, hasRef := strings.Cut(strings.TrimPrefix(src, "oci:"), ":")
		if dir == "" {
			v.errorf(f, "%q names no directory: write oci:DIR[:REF]", src)
			break
		}
		if hasRef && !ociRefNameRE.MatchString(ref) {
			v.errorf(f, "%q: %q is not a valid reference name in an OCI layout", src, ref)
		}
		v.path(f, dir, specDir)
	case strings.HasPrefix(src, "docker-archive:"):
		file := strings.TrimPrefix(src, "docker-archive:")
		if file == "" {
			v.errorf(f, "%q names no file: write docker-archive:FILE", src)
			break
		}
		v.path(f, file, specFile)
	case strings.Contains(src, "://"):
		v.errorf(f, "%q: write a registry reference without a scheme (registry.example.com/wf/api:1.4.0), oci:DIR[:REF] or docker-archive:FILE", src)
	default:
		if err := v.src.check(v.src.ImageReference, src); err != nil {
			v.errorf(f, "%q is not a full image reference (%v): write registry/repository:tag or registry/repository@sha256:..., or use oci:DIR[:REF] or docker-archive:FILE", src, err)
		}
	}
	if im.Name != "" {
		if err := v.checkImageName(im.Name); err != nil {
			v.errorf(f+".name", "%v", err)
		}
	}
}

// checkImageName checks the name an image is served under on the appliance:
// repository[:tag][@digest] without a registry host, since the appliance's
// registry is the host.
func (v *specValidator) checkImageName(n string) error {
	repo, _, _ := strings.Cut(n, "@")
	if first, _, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return fmt.Errorf("%q starts with the registry host %q: give the name the appliance serves, such as wf/api:1.4.0", n, first)
	}
	// The name the appliance's registry will serve, checked against the
	// grammar of that registry.
	if err := v.src.check(v.src.ImageName, n); err != nil {
		return fmt.Errorf("%q is not a valid image name (%w): write repository[:tag][@digest], such as wf/api:1.4.0", n, err)
	}
	return nil
}

func (v *specValidator) fileSpec(f string, fl File, dests map[string]string) {
	if resolved, ok := v.path(f+".src", fl.Src, specFile); ok && fl.Template {
		v.templateFile(f+".src", resolved, fl.Src)
	}
	if err := CheckFileDest(fl.Dest); err != nil {
		v.errorf(f+".dest", "%v", err)
	} else if prev, dup := dests[fl.Dest]; dup {
		v.errorf(f+".dest", "%q is also written by %s: each destination comes from one file", fl.Dest, prev)
	} else {
		dests[fl.Dest] = f + ".dest"
	}
	// YAML reads an unquoted 0755 as a number, decimal or octal depending
	// on the version of YAML; only a string says which is meant.
	if n := v.ix.node(f + ".mode"); n != nil {
		if text, ok := yamlnode.Text(n); ok && text != "" && !isSpecString(n) {
			v.errorf(f+".mode", "write the mode as a quoted string, such as \"0755\"; unquoted %s is a number to YAML", text)
			return
		}
	}
	if _, err := FileMode(fl.Mode); err != nil {
		v.errorf(f+".mode", "%v", err)
	}
}

// destConflicts reports a file whose destination is a directory of another
// file's destination ("bin" and "bin/api"): both cannot exist.
func (v *specValidator) destConflicts(dests map[string]string) {
	isDest := func(d string) bool { _, ok := dests[d]; return ok }
	for _, dest := range slices.Sorted(maps.Keys(dests)) {
		if dir, ok := FileInsideFile(dest, isDest); ok {
			v.errorf(dests[dest], "%q is inside %q, which %s writes as a file", dest, dir, dests[dir])
		}
	}
}

func (v *specValidator) service(f string, s *Service, services map[string]string) {
	if v.name(f+".name", s.Name) {
		if prev, dup := services[s.Name]; dup {
			v.errorf(f+".name", "duplicate service %q (also %s): service names are unique across the bundle", s.Name, prev)
		} else {
			services[s.Name] = f
		}
	}
	v.command(f+".command", s.Command, "is required: the program and its arguments, such as [bin/api, --listen, \"127.0.0.1:${PORT}\"]")
	v.account(f+".user", s.User)
	v.account(f+".group", s.Group)
	v.refsIn(f+".command", s.Command)
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		if !envNameRE.MatchString(k) {
			v.errorf(f+".env."+k, "%q is not a valid environment variable name: use letters, digits and _, not starting with a digit", k)
		}
		v.refsWhere(f+".env."+k, s.Env[k], true)
	}
	// A listen address with references is checked at install, where it
	// has its value.
	if s.Listen != "" && !v.refs(f+".listen", s.Listen) {
		if err := checkListen(s.Listen); err != nil {
			v.errorf(f+".listen", "%v", err)
		}
	}
	if h := s.Health; h != nil {
		v.serviceProbe(f+".health", h.HTTP, h.Command)
	}
	if r := s.Rollout; r != nil {
		v.rollout(f+".rollout", r)
		if s.Listen == "" {
			v.errorf(f+".listen", "is required with rollout: it is the address where traffic is shifted between versions")
		}
	}
	if r := s.Routing; r != nil {
		v.routing(f+".routing", r)
		if s.Listen == "" {
			v.errorf(f+".listen", "is required with routing: it is the address of the router that forwards to peer sites")
		}
	}
}

// routing checks the strategy across sites and its health checks.
func (v *specValidator) routing(f string, r *Routing) {
	for _, p := range r.Problems() {
		v.errorf(f+p.Field, "%s", p.Msg)
	}
}

// account checks an optional user or group name of a service.
func (v *specValidator) account(field, name string) {
	if name != "" && (len(name) > maxAccountNameLen || !accountNameRE.MatchString(name)) {
		v.errorf(field, "%q is not a user or group name: use lowercase letters, digits, '_' and '-', starting with a letter or '_', at most %d characters", name, maxAccountNameLen)
	}
}

// rollout checks a rollout strategy. A canary's steps are the percentages
// of traffic the new version gets, in order, ending with all of it. A
// blue-green rollout has no steps: it switches all traffic at once, which
// counts as the single step 100 for approval.
func (v *specValidator) rollout(f string, r *Rollout) {
	steps := r.Steps
	switch r.Strategy {
	case StrategyCanary:
		if len(steps) == 0 {
			v.errorf(f+".steps", "is required for a canary rollout: percentages of traffic, such as [5, 25, 50, 100]")
		}
		for i, s := range steps {
			sf := fmt.Sprintf("%s.steps[%d]", f, i)
			switch {
			case s < 1 || s > 100:
				v.errorf(sf, "%d is not a percentage from 1 to 100", s)
			case i > 0 && s <= steps[i-1]:
				v.errorf(sf, "%d does not increase on %d: steps go up strictly", s, steps[i-1])
			}
		}
		if n := len(steps); n > 0 && steps[n-1] != 100 {
			v.errorf(fmt.Sprintf("%s.steps[%d]", f, n-1), "the last step is %d: a canary ends with 100, all traffic on the new version", steps[n-1])
		}
	case StrategyBlueGreen:
		if len(steps) > 0 {
			v.errorf(f+".steps", "a blue-green rollout switches all traffic at once: remove steps, or use strategy: canary")
		}
		steps = []int{100}
	case "":
		v.errorf(f+".strategy", "is required: %s or %s", StrategyCanary, StrategyBlueGreen)
		return
	default:
		v.errorf(f+".strategy", "%q is not a strategy: use %s or %s", r.Strategy, StrategyCanary, StrategyBlueGreen)
		return
	}
	approvals := make(map[int]bool)
	for i, a := range r.Approval {
		af := fmt.Sprintf("%s.approval[%d]", f, i)
		found := false
		for _, s := range steps {
			found = found || s == a
		}
		switch {
		case !found:
			v.errorf(af, "%d is not one of the steps %v: approval names the steps that wait for an operator", a, steps)
		case approvals[a]:
			v.errorf(af, "%d is listed twice", a)
		}
		approvals[a] = true
	}
	if a := r.Analysis; a != nil && a.MinRequests < 0 {
		v.errorf(f+".analysis.minRequests", "%d is negative", a.MinRequests)
	}
	for i, c := range r.Smoke {
		v.serviceProbe(fmt.Sprintf("%s.smoke[%d]", f, i), c.HTTP, c.Command)
	}
	if r.Sticky != "" && !cookieNameRE.MatchString(r.Sticky) {
		v.errorf(f+".sticky", "%q is not a cookie name: use letters, digits and -_.", r.Sticky)
	}
	for i, rt := range r.Route {
		rf := fmt.Sprintf("%s.route[%d]", f, i)
		switch {
		case rt.Header == "" && rt.Cookie == "" && rt.Client == "":
			v.errorf(rf, "matches everything: give a header, a cookie or a client range")
		case rt.Header != "" && rt.Cookie != "":
			v.errorf(rf, "has both header and cookie: value would be ambiguous; write two routes")
		case rt.Value != "" && rt.Header == "" && rt.Cookie == "":
			v.errorf(rf+".value", "needs a header or a cookie to compare with")
		}
		if rt.Header != "" && !cookieNameRE.MatchString(rt.Header) {
			v.errorf(rf+".header", "%q is not a header name", rt.Header)
		}
		if rt.Cookie != "" && !cookieNameRE.MatchString(rt.Cookie) {
			v.errorf(rf+".cookie", "%q is not a cookie name", rt.Cookie)
		}
		if rt.Client != "" {
			if _, err := netip.ParsePrefix(rt.Client); err != nil {
				v.errorf(rf+".client", "%q is not an address range: write it like 10.0.0.0/8", rt.Client)
			}
		}
	}
}

// cookieNameRE is what ferry accepts as a cookie or header name: a plain
// subset of the HTTP token characters.
var cookieNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// serviceProbe checks a health check or smoke test: a request path on the
// service version itself (ferry knows its address), or a command.
func (v *specValidator) serviceProbe(f, path string, argv []string) {
	switch {
	case path != "" && len(argv) > 0:
		v.errorf(f, "has both http and command: give exactly one")
	case path == "" && len(argv) == 0:
		v.errorf(f, "has neither http nor command: give exactly one")
	case path != "":
		v.refs(f+".http", path)
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(withoutRefs(path), " \t\r\n") {
			v.errorf(f+".http", "%q is not a request path: it is sent to the service version directly; write a path such as /healthz", path)
		}
	default:
		v.command(f+".command", argv, "")
		v.refsIn(f+".command", argv)
	}
}

func (v *specValidator) check(f string, c Check) {
	switch {
	case c.HTTP != "" && len(c.Command) > 0:
		v.errorf(f, "has both http and command: give exactly one")
	case c.HTTP == "" && len(c.Command) == 0:
		v.errorf(f, "has neither http nor command: give exactly one")
	case c.HTTP != "":
		v.refs(f+".http", c.HTTP)
		u, err := url.Parse(withoutRefs(c.HTTP))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf(f+".http", "%q is not an absolute http:// or https:// URL, such as http://127.0.0.1:8080/healthz", c.HTTP)
		}
	default:
		v.command(f+".command", c.Command, "")
		v.refsIn(f+".command", c.Command)
	}
}

// command checks an argv: present (when required is a message) and with
// a program to run.
func (v *specValidator) command(f string, argv []string, required string) {
	if len(argv) == 0 {
		if required != "" {
			v.errorf(f, "%s", required)
		}
		return
	}
	if strings.TrimSpace(argv[0]) == "" {
		v.errorf(f+"[0]", "the program to run is empty")
	}
}

// specRelMessage writes err's message with the resolved path full replaced
// by the path as the spec gives it, which is the one the vendor knows.
func specRelMessage(err error, full, rel string) string {
	return strings.ReplaceAll(err.Error(), full, filepath.ToSlash(filepath.Clean(filepath.FromSlash(rel))))
}

// CheckListen checks a host:port listen address, such as a listen: that
// has its value only once its references are expanded.
func CheckListen(s string) error { return checkListen(s) }

// checkListen checks a host:port listen address. The host may be empty
// (every interface); the port must be a number from 1 to 65535.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port, such as 127.0.0.1:8080", s)
	}
	if strings.ContainsAny(host, " \t/") {
		return fmt.Errorf("%q: %q is not a host name or IP address", s, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return nil
}

// specPathKind is what a spec path must name.
type specPathKind int

const (
	specFile specPathKind = iota
	specDir
	specDirOrFile
)

// path checks a path from the spec and returns it resolved (absolute, with
// symlinks evaluated). A spec path is relative to the spec's directory and
// must stay inside it, also through symlinks: a bundle is built from what
// sits next to its spec, never from elsewhere on the build host.
func (v *specValidator) path(f, p string, kind specPathKind) (string, bool) {
	if p == "" {
		v.errorf(f, "is required: a path relative to the directory of %s", v.file)
		return "", false
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || filepath.VolumeName(p) != "" {
		v.errorf(f, "%q is absolute: write it relative to the directory of %s", p, v.file)
		return "", false
	}
	clean := filepath.Clean(filepath.FromSlash(p))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		v.errorf(f, "%q leaves the directory of %s: keep sources next to the spec", p, v.file)
		return "", false
	}
	full := filepath.Join(v.dir, clean)
	resolved, err := filepath.EvalSymlinks(full)
	if errors.Is(err, fs.ErrNotExist) {
		v.errorf(f, "%q does not exist in the directory of %s: create it or correct the path", p, v.file)
		return "", false
	}
	if err != nil {
		v.errorf(f, "%q: %v", p, err)
		return "", false
	}
	if v.realDir != "" {
		rel, err := filepath.Rel(v.realDir, resolved)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			v.errorf(f, "%q leads through a symlink outside the directory of %s: copy the source next to the spec", p, v.file)
			return "", false
		}
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		v.errorf(f, "%q: %v", p, err)
		return "", false
	}
	switch {
	case kind == specDir && !fi.IsDir():
		v.errorf(f, "%q is not a directory", p)
		return "", false
	case kind == specFile && !fi.Mode().IsRegular():
		v.errorf(f, "%q is not a regular file", p)
		return "", false
	case kind == specDirOrFile && !fi.IsDir() && !fi.Mode().IsRegular():
		v.errorf(f, "%q is neither a directory nor a regular file", p)
		return "", false
	}
	return resolved, true
}

// ComponentOrder returns component names in install order: each component
// after every component it depends on. Among components that are ready at
// the same time, the one that comes first in the list comes first, so the
// order is deterministic and follows the spec wherever the dependencies
// allow. A dependency cycle is an error naming its members in order
// ("a -> b -> c -> a"); so are duplicate names and unknown dependencies.
func ComponentOrder(components []Component) ([]string, error) {
	order, cycle, err := orderComponents(components)
	if err != nil {
		return nil, err
	}
	if cycle != nil {
		return nil, fmt.Errorf("dependency cycle %s: remove one of these dependencies", strings.Join(cycle, " -> "))
	}
	return order, nil
}

// orderComponents sorts components topologically (Kahn's algorithm, taking
// the ready component earliest in the list each time). When some
// components are left over, they depend on each other; cycle is then one
// cycle among them, starting and ending at its member earliest in the list.
func orderComponents(components []Component) (order, cycle []string, err error) {
	index := make(map[string]int, len(components))
	for i, c := range components {
		if _, dup := index[c.Name]; dup {
			return nil, nil, fmt.Errorf("duplicate component %q", c.Name)
		}
		index[c.Name] = i
	}
	deps := make([][]int, len(components))       // i depends on deps[i]
	dependents := make([][]int, len(components)) // j is needed by dependents[j]
	waiting := make([]int, len(components))      // unmet dependencies of i
	for i, c := range components {
		seen := make(map[int]bool)
		for _, d := range c.DependsOn {
			j, ok := index[d]
			if !ok {
				return nil, nil, fmt.Errorf("component %q depends on unknown component %q", c.Name, d)
			}
			if seen[j] {
				continue
			}
			seen[j] = true
			deps[i] = append(deps[i], j)
			dependents[j] = append(dependents[j], i)
			waiting[i]++
		}
	}
	ready := &componentHeap{}
	for i := range components {
		if waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	done := make([]bool, len(components))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		done[i] = true
		order = append(order, components[i].Name)
		for _, k := range dependents[i] {
			if waiting[k]--; waiting[k] == 0 {
				heap.Push(ready, k)
			}
		}
	}
	if len(order) == len(components) {
		return order, nil, nil
	}
	// Every component left has a dependency that is also left: walk first
	// dependencies from the earliest one until a component repeats.
	start := 0
	for done[start] {
		start++
	}
	pos := make(map[int]int)
	var walk []int
	for i := start; i >= 0; {
		if p, ok := pos[i]; ok {
			walk = walk[p:]
			break
		}
		pos[i] = len(walk)
		walk = append(walk, i)
		next := -1
		for _, j := range deps[i] {
			if !done[j] {
				next = j
				break
			}
		}
		i = next
	}
	first := 0
	for k, i := range walk {
		if i < walk[first] {
			first = k
		}
	}
	for k := range walk {
		cycle = append(cycle, components[walk[(first+k)%len(walk)]].Name)
	}
	cycle = append(cycle, cycle[0])
	return nil, cycle, nil
}

// componentHeap is a min-heap of component indexes: the ready component
// earliest in the list is taken first.
type componentHeap []int

func (h componentHeap) Len() int           { return len(h) }
func (h componentHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h componentHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *componentHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *componentHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// isSpecString reports whether a scalar node is a YAML string rather than a
// number, boolean or other typed value.
func isSpecString(n ast.Node) bool {
	switch yamlnode.Unwrap(n).(type) {
	case *ast.StringNode, *ast.LiteralNode:
		return true
	}
	return false
}
