package spec

import "time"

// APIVersion and Kind are the only values ferry.yaml may declare in its
// header; a later format gets a new apiVersion rather than silently changing
// the meaning of an old file.
const (
	APIVersion = "ferry/v1"
	Kind       = "Bundle"
)

// Spec is a parsed and validated ferry.yaml: the vendor's contract for what a
// bundle contains. Dir is the directory of the spec file; every path in the
// spec is relative to it and may not leave it.
type Spec struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata" json:"metadata"`
	License    *License `yaml:"license,omitempty" json:"license,omitempty"`
	// Variables are the settings a site gives values to (package config),
	// written ${var.NAME} where they are used.
	Variables  []Variable  `yaml:"variables,omitempty" json:"variables,omitempty"`
	Components []Component `yaml:"components" json:"components"`

	// Dir is where the spec file lives; it is not part of the YAML.
	Dir string `yaml:"-" json:"-"`
}

// Metadata names the bundle. Version is semver; anti-rollback compares it.
type Metadata struct {
	Name    string     `yaml:"name" json:"name"`
	Version string     `yaml:"version" json:"version"`
	Vendor  string     `yaml:"vendor,omitempty" json:"vendor,omitempty"`
	Expires *time.Time `yaml:"expires,omitempty" json:"expires,omitempty"`
}

// License names the public keys of the vendor's licence signer. They
// travel inside the signed bundle, so the host learns them from the release
// keys it already trusts, and they are separate from the release keys: a
// key that signs licences cannot sign software. Required makes a licence
// mandatory for install and update.
type License struct {
	Required bool     `yaml:"required,omitempty" json:"required,omitempty"`
	Keys     []string `yaml:"keys" json:"keys"`
}

// Component is one installable unit. Components are required unless
// Optional is set; DependsOn orders the install.
type Component struct {
	Name       string      `yaml:"name" json:"name"`
	DependsOn  []string    `yaml:"dependsOn,omitempty" json:"dependsOn,omitempty"`
	Optional   bool        `yaml:"optional,omitempty" json:"optional,omitempty"`
	Platforms  []string    `yaml:"platforms,omitempty" json:"platforms,omitempty"`
	Images     []Image     `yaml:"images,omitempty" json:"images,omitempty"`
	Migrations []Migration `yaml:"migrations,omitempty" json:"migrations,omitempty"`
	Files      []File      `yaml:"files,omitempty" json:"files,omitempty"`
	Charts     []Chart     `yaml:"charts,omitempty" json:"charts,omitempty"`
	Services   []Service   `yaml:"services,omitempty" json:"services,omitempty"`
	Checks     []Check     `yaml:"checks,omitempty" json:"checks,omitempty"`
}

// Image is one image source in skopeo-style transport syntax: a bare
// reference is a registry, "oci:DIR[:REF]" an OCI image layout and
// "docker-archive:FILE" a docker save tarball. Name, when set, is the name
// the appliance's registry serves the image under. In YAML an image is either
// a plain string (the source) or a mapping {source, name}.
type Image struct {
	Source string `yaml:"source" json:"source"`
	Name   string `yaml:"name,omitempty" json:"name,omitempty"`
}

// Migration is a directory of NNN_name.up.sql / NNN_name.down.sql files
// for one logical database.
type Migration struct {
	Database string `yaml:"database" json:"database"`
	Path     string `yaml:"path" json:"path"`
}

// File copies one regular file into the release directory.
// Mode is an octal string such as "0755"; empty means 0644. A Template
// file is a text/template rendered with the site's values at install.
type File struct {
	Src      string `yaml:"src" json:"src"`
	Dest     string `yaml:"dest" json:"dest"`
	Mode     string `yaml:"mode,omitempty" json:"mode,omitempty"`
	Template bool   `yaml:"template,omitempty" json:"template,omitempty"`
}

// Chart is a Helm chart directory or packaged .tgz, with the values files
// it is installed with (later files override earlier ones, as helm's -f),
// the namespace and release name it is installed as, and how long its
// install or upgrade may take to become ready.
type Chart struct {
	Path   string     `yaml:"path" json:"path"`
	Values ValueFiles `yaml:"values,omitempty" json:"values,omitempty"`
	// Namespace is the Kubernetes namespace of the release; empty is the
	// namespace the kubeconfig's context names at install time.
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	// Release is the Helm release name; empty is the chart's name.
	Release string `yaml:"release,omitempty" json:"release,omitempty"`
	// Timeout bounds the install or upgrade and its wait for readiness;
	// zero is DefaultChartTimeout.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// DefaultChartTimeout is how long a chart's install or upgrade may take
// when its spec gives no timeout: Helm's own default.
const DefaultChartTimeout = Duration(5 * time.Minute)

// Service declares a long-running process of a component. ferry carries
// it as data into the manifest for `ferry serve`.
type Service struct {
	Name    string   `yaml:"name" json:"name"`
	Command []string `yaml:"command" json:"command"`
	// User and Group are the host account the service runs as. When ferry
	// runs as root and User is empty, the service runs as an unprivileged
	// system user that install creates (installer.ServiceUser); root has to
	// be named, "user: root", so that a service never gets it by default.
	// Empty Group is the user's primary group.
	User    string            `yaml:"user,omitempty" json:"user,omitempty"`
	Group   string            `yaml:"group,omitempty" json:"group,omitempty"`
	Env     map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	Listen  string            `yaml:"listen,omitempty" json:"listen,omitempty"`
	Health  *Health           `yaml:"health,omitempty" json:"health,omitempty"`
	Rollout *Rollout          `yaml:"rollout,omitempty" json:"rollout,omitempty"`
	// Routing is how the service's traffic is spread over this site and
	// its peers, when the site configuration lists peers.
	Routing *Routing `yaml:"routing,omitempty" json:"routing,omitempty"`
}

// Routing is the strategy across sites: which site's router serves a
// request that reaches this one.
type Routing struct {
	// Strategy is failover (the default), weighted, latency or
	// geographic.
	Strategy string `yaml:"strategy,omitempty" json:"strategy,omitempty"`
	// Failback returns traffic to a preferred site once it is healthy
	// again; nil is true.
	Failback *bool `yaml:"failback,omitempty" json:"failback,omitempty"`
	// Tolerance is how much lower a site's smoothed latency must be than
	// the chosen site's before the latency strategy moves traffic to it.
	Tolerance Duration    `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
	Health    *SiteHealth `yaml:"health,omitempty" json:"health,omitempty"`
}

// SiteHealth is how often each peer is probed, and how many checks in a
// row change its state, so that one lost probe moves no traffic.
type SiteHealth struct {
	Interval  Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Timeout   Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Failures  int      `yaml:"failures,omitempty" json:"failures,omitempty"`
	Successes int      `yaml:"successes,omitempty" json:"successes,omitempty"`
}

// Routing strategies across sites.
const (
	RoutingFailover   = "failover"
	RoutingWeighted   = "weighted"
	RoutingLatency    = "latency"
	RoutingGeographic = "geographic"
)

// Defaults of routing across sites.
const (
	DefaultSiteInterval  = Duration(time.Second)
	DefaultSiteFailures  = 2
	DefaultSiteSuccesses = 3
	DefaultSiteTolerance = Duration(10 * time.Millisecond)
)

// Limits of routing across sites.
const (
	MinSiteInterval = Duration(100 * time.Millisecond)
	MaxSiteInterval = Duration(time.Hour)
	MaxSiteChecks   = 100
)

// WithDefaults returns r, or the defaults for nil, with every unset field
// at its default. The timeout is half the interval unless given (and
// never more than the interval), so that a site whose link is lost fails
// `failures` checks within failures-½ intervals of the first.
func (r *Routing) WithDefaults() Routing {
	var out Routing
	if r != nil {
		out = *r
	}
	if out.Strategy == "" {
		out.Strategy = RoutingFailover
	}
	if out.Failback == nil {
		t := true
		out.Failback = &t
	}
	if out.Tolerance == 0 {
		out.Tolerance = DefaultSiteTolerance
	}
	h := SiteHealth{}
	if out.Health != nil {
		h = *out.Health
	}
	if h.Interval == 0 {
		h.Interval = DefaultSiteInterval
	}
	if h.Timeout == 0 {
		h.Timeout = h.Interval / 2
	}
	h.Timeout = min(h.Timeout, h.Interval)
	if h.Failures == 0 {
		h.Failures = DefaultSiteFailures
	}
	if h.Successes == 0 {
		h.Successes = DefaultSiteSuccesses
	}
	out.Health = &h
	return out
}

// Health is how the supervisor decides a service version is healthy.
type Health struct {
	HTTP     string   `yaml:"http,omitempty" json:"http,omitempty"`
	Command  []string `yaml:"command,omitempty" json:"command,omitempty"`
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Timeout  Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Rollout is the strategy for shifting traffic to a new version.
type Rollout struct {
	Strategy string    `yaml:"strategy" json:"strategy"` // "canary" or "blue-green"
	Steps    []int     `yaml:"steps,omitempty" json:"steps,omitempty"`
	Interval Duration  `yaml:"interval,omitempty" json:"interval,omitempty"`
	Analysis *Analysis `yaml:"analysis,omitempty" json:"analysis,omitempty"`
	Approval []int     `yaml:"approval,omitempty" json:"approval,omitempty"`
	// ScaleDownDelay is how long blue-green keeps the old version running
	// after the switch, during which a rollback is instant (default 30s).
	ScaleDownDelay Duration `yaml:"scaleDownDelay,omitempty" json:"scaleDownDelay,omitempty"`
	// Smoke tests run against the new version directly, before it gets
	// traffic: an HTTP path on it, or a command run in its release
	// directory with PORT set to its port.
	Smoke []Check `yaml:"smoke,omitempty" json:"smoke,omitempty"`
	// Sticky names a cookie that keeps a client on the version it was
	// first sent to.
	Sticky string `yaml:"sticky,omitempty" json:"sticky,omitempty"`
	// Route sends matching requests to the new version whatever its
	// weight, so testers reach it first.
	Route []Route `yaml:"route,omitempty" json:"route,omitempty"`
}

// Route matches requests by a header value, a cookie value or the
// client's address range (CIDR); every condition given must hold.
type Route struct {
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	Cookie string `yaml:"cookie,omitempty" json:"cookie,omitempty"`
	// Value is the header's or the cookie's value; empty matches any.
	Value  string `yaml:"value,omitempty" json:"value,omitempty"`
	Client string `yaml:"client,omitempty" json:"client,omitempty"`
}

// Analysis bounds the metrics of a new version during a rollout.
// Percentages are written as "1%" in YAML.
type Analysis struct {
	ErrorRate   Percent  `yaml:"errorRate,omitempty" json:"errorRate,omitempty"`
	LatencyP95  Duration `yaml:"latencyP95,omitempty" json:"latencyP95,omitempty"`
	CPU         Percent  `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	Memory      Percent  `yaml:"memory,omitempty" json:"memory,omitempty"`
	MinRequests int      `yaml:"minRequests,omitempty" json:"minRequests,omitempty"`
}

// Check is a post-activation check: a command run in the release
// directory or an HTTP GET that must answer 2xx.
type Check struct {
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	HTTP    string   `yaml:"http,omitempty" json:"http,omitempty"`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}
