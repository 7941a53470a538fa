package config

import (
	"fmt"
	"maps"
	"strings"

	"ferry/bundle/spec"
)

// Builtins are ferry's own values, ${ferry.NAME}: the release's version,
// the appliance's root, the data directory (a service's own, elsewhere
// the root's) and each logical database's path or DSN.
type Builtins struct {
	Version string
	Root    string
	Data    string
	DBs     map[string]string
}

// Expand replaces every ${var.NAME} and ${ferry.NAME} in s by its value;
// any other ${...} (such as ${PORT}) is left as it is. Values are not
// expanded again, so a value holding "${var.x}" stays text. A reference
// to nothing this configuration has is an error.
func (c *Config) Expand(s string, b Builtins) (string, error) {
	refs, err := spec.Refs(s)
	if err != nil {
		return "", err
	}
	if len(refs) == 0 {
		return s, nil
	}
	var out strings.Builder
	last := 0
	for _, r := range refs {
		out.WriteString(s[last:r.Start])
		v, err := c.ref(r, b)
		if err != nil {
			return "", err
		}
		out.WriteString(v)
		last = r.End
	}
	out.WriteString(s[last:])
	return out.String(), nil
}

func (c *Config) ref(r spec.Ref, b Builtins) (string, error) {
	if r.Kind == spec.RefVar {
		v, ok := c.Lookup(r.Name)
		if !ok {
			return "", fmt.Errorf("${var.%s}: no such variable", r.Name)
		}
		return v.Value, nil
	}
	switch {
	case r.Name == spec.BuiltinVersion:
		return b.Version, nil
	case r.Name == spec.BuiltinRoot:
		return b.Root, nil
	case r.Name == spec.BuiltinData:
		return b.Data, nil
	case strings.HasPrefix(r.Name, spec.BuiltinDB):
		name := strings.TrimPrefix(r.Name, spec.BuiltinDB)
		if v, ok := b.DBs[name]; ok {
			return v, nil
		}
		return "", fmt.Errorf("${ferry.%s}: no embedded database %s here (a database given a PostgreSQL DSN reaches a service only as %s in its environment: the DSN holds a password)", r.Name, name, "FERRY_DB_"+strings.ToUpper(name))
	}
	return "", fmt.Errorf("${ferry.%s}: no such value here", r.Name)
}

func (c *Config) expandAll(list []string, b Builtins) ([]string, error) {
	if list == nil {
		return nil, nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		var err error
		if out[i], err = c.Expand(s, b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ExpandService returns svc with its command, env values, listen address,
// health check and smoke tests expanded; svc itself is not changed. An
// expanded listen address must be host:port.
func (c *Config) ExpandService(svc spec.Service, b Builtins) (spec.Service, error) {
	out := svc
	var err error
	fail := func(field string, err error) (spec.Service, error) {
		return spec.Service{}, fmt.Errorf("service %s: %s: %w", svc.Name, field, err)
	}
	if out.Command, err = c.expandAll(svc.Command, b); err != nil {
		return fail("command", err)
	}
	if svc.Env != nil {
		out.Env = maps.Clone(svc.Env)
		for k, v := range svc.Env {
			if out.Env[k], err = c.Expand(v, b); err != nil {
				return fail("env "+k, err)
			}
		}
	}
	if out.Listen, err = c.Expand(svc.Listen, b); err != nil {
		return fail("listen", err)
	}
	if out.Listen != svc.Listen {
		if err := spec.CheckListen(out.Listen); err != nil {
			return fail("listen", err)
		}
	}
	if h := svc.Health; h != nil {
		hc := *h
		if hc.HTTP, err = c.Expand(h.HTTP, b); err != nil {
			return fail("health", err)
		}
		if hc.Command, err = c.expandAll(h.Command, b); err != nil {
			return fail("health", err)
		}
		out.Health = &hc
	}
	if r := svc.Rollout; r != nil && len(r.Smoke) > 0 {
		rc := *r
		rc.Smoke = make([]spec.Check, len(r.Smoke))
		for i, ck := range r.Smoke {
			if rc.Smoke[i], err = c.ExpandCheck(ck, b); err != nil {
				return fail("smoke", err)
			}
		}
		out.Rollout = &rc
	}
	return out, nil
}

// ExpandCheck returns the check with its command and URL expanded.
func (c *Config) ExpandCheck(ck spec.Check, b Builtins) (spec.Check, error) {
	out := ck
	var err error
	if out.Command, err = c.expandAll(ck.Command, b); err != nil {
		return spec.Check{}, err
	}
	if out.HTTP, err = c.Expand(ck.HTTP, b); err != nil {
		return spec.Check{}, err
	}
	return out, nil
}

// ExpandLines expands the references of a text (a chart's values file)
// line by line, naming the line of a reference it cannot expand.
func (c *Config) ExpandLines(name string, text []byte, b Builtins) ([]byte, error) {
	lines := strings.SplitAfter(string(text), "\n")
	var out strings.Builder
	out.Grow(len(text))
	for i, l := range lines {
		e, err := c.Expand(l, b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		out.WriteString(e)
	}
	return []byte(out.String()), nil
}
