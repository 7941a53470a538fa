package installer

import (
	"errors"
	"maps"
	"slices"

	"bytes"
	"context"
	"encoding/json"
	"ferry/config/sealed"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/config"
	"ferry/installer/migrate"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/atomicfile"
	"ferry/internal/oci"
)

// StoredConfig returns the configuration a release was installed with;
// nil when it has none (a bundle without variables, or installed before
// they existed).
func StoredConfig(r state.Release) (*config.Config, error) {
	if len(r.Config) == 0 {
		return nil, nil
	}
	var c config.Config
	if err := json.Unmarshal(r.Config, &c); err != nil {
		return nil, fmt.Errorf("release %s: stored configuration: %w", r.Version, err)
	}
	return &c, nil
}

// resolveConfig gives the bundle's variables their values: from what the
// operator gave (in; nil gives nothing) over the configuration of the
// release current on the host. Every value is checked here, in admission,
// before anything changes.
func resolveConfig(db *state.DB, m *bundle.Manifest, root, current string, in *config.Inputs, dsns map[string]string) (*config.Config, error) {
	var inputs config.Inputs
	if in != nil {
		inputs = *in
	}
	if current != "" {
		if rel, err := db.Release(current); err == nil {
			if inputs.Previous, err = StoredConfig(rel); err != nil {
				return nil, err
			}
			if inputs.Previous, err = unseal(root, inputs.Previous); err != nil {
				return nil, err
			}
		}
	}
	c, err := config.Resolve(m.Variables, inputs)
	if err != nil {
		return nil, err
	}
	// Numbered after every revision kept, not only the one in force: after
	// a rollback, the next revision does not take a number in use.
	if n, err := maxRevision(db); err != nil {
		return nil, err
	} else if c.Revision <= n {
		c.Revision = n + 1
	}
	// A database given a DSN now, or before (kept sealed with the
	// configuration in force), is PostgreSQL; the others are embedded.
	c.Databases, c.DSNs = map[string]string{}, map[string]string{}
	for _, comp := range m.Components {
		for _, ms := range comp.Migrations {
			dsn, remote := dsns[ms.Database]
			if prev := inputs.Previous; dsn == "" && prev != nil {
				if d, ok := prev.DSNs[ms.Database]; ok {
					dsn, remote = d, true
				}
			}
			switch {
			case !remote:
				c.Databases[ms.Database] = migrate.SQLitePath(root, ms.Database)
			case dsn != "":
				c.DSNs[ms.Database] = dsn
			}
		}
	}
	if len(c.DSNs) == 0 {
		c.DSNs = nil
	}
	if len(c.Databases) == 0 {
		c.Databases = nil
	}
	// Every use must expand: a listen address that is not host:port once
	// it has its value is refused now, not when ferry serve starts it.
	for _, comp := range m.Components {
		for _, svc := range comp.Services {
			if _, err := c.ExpandService(svc, ServiceBuiltins(c, root, m.Version, svc.Name)); err != nil {
				return nil, fmt.Errorf("%w: %w", config.ErrType, err)
			}
		}
		for _, ck := range comp.Checks {
			if _, err := c.ExpandCheck(ck, ReleaseBuiltins(c, root, m.Version)); err != nil {
				return nil, fmt.Errorf("%w: component %s: check: %w", config.ErrType, comp.Name, err)
			}
		}
	}
	return c, nil
}

// ReleaseBuiltins are the ${ferry.NAME} values of a release outside any
// one service: ${ferry.data} is the root's data directory.
func ReleaseBuiltins(c *config.Config, root, version string) config.Builtins {
	b := config.Builtins{Version: version, Root: root, Data: filepath.Join(root, "data")}
	if c != nil {
		b.DBs = c.Databases
	}
	return b
}

// ServiceBuiltins are the ${ferry.NAME} values of one service: its own
// data directory.
func ServiceBuiltins(c *config.Config, root, version, service string) config.Builtins {
	b := ReleaseBuiltins(c, root, version)
	b.Data = DataDir(root, service)
	return b
}

// ServiceEnv adds the built-in environment every service gets to env:
// FERRY_ROOT, FERRY_DATA_DIR and FERRY_DB_NAME for each database of
// ${ferry.db.NAME}. They override an env: of the same name.
func ServiceEnv(env map[string]string, b config.Builtins) map[string]string {
	out := make(map[string]string, len(env)+3+len(b.DBs))
	for k, v := range env {
		out[k] = v
	}
	out["FERRY_ROOT"] = b.Root
	out["FERRY_DATA_DIR"] = b.Data
	for name, v := range b.DBs {
		out["FERRY_DB_"+strings.ToUpper(name)] = v
	}
	return out
}

// ExpandedService is svc of release rel as it runs: its references
// expanded with the release's configuration, and the built-in
// environment added.
func ExpandedService(rel state.Release, root string, svc spec.Service) (spec.Service, error) {
	c, err := StoredConfig(rel)
	if err != nil {
		return spec.Service{}, err
	}
	if c == nil {
		c = &config.Config{}
	}
	b := ServiceBuiltins(c, root, rel.Version, svc.Name)
	// An env entry naming a secret stays as written: its value is given
	// only to the process, as it starts (SiteSecrets).
	plain, secret := secretEnv(c, svc.Env)
	svc.Env = plain
	out, err := c.ExpandService(svc, b)
	if err != nil {
		return spec.Service{}, fmt.Errorf("release %s: %w", rel.Version, err)
	}
	out.Env = ServiceEnv(out.Env, b)
	for k, v := range secret {
		out.Env[k] = v
	}
	return out, nil
}

// renderFile renders the template file f of the release with c into the
// release directory, as place writes any file (temporary file, fsync,
// rename, beneath the root), and returns the rendered file's digest.
func renderFile(ctx context.Context, st *store.Store, root, version string, f bundle.File, c *config.Config) (string, error) {
	src, err := st.Open(f.Digest)
	if err != nil {
		return "", err
	}
	text, err := io.ReadAll(io.LimitReader(src, spec.MaxTemplateSize+1))
	src.Close()
	if err != nil {
		return "", err
	}
	if c == nil {
		c = &config.Config{}
	}
	out, err := c.Render(ctx, f.Dest, text, ReleaseBuiltins(c, root, version))
	if err != nil {
		return "", fmt.Errorf("file %s: %w", f.Dest, err)
	}
	mode, err := placedModeOf(f)
	if err != nil {
		return "", err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", err
	}
	defer r.Close()
	err = atomicfile.WriteBeneath(r, path.Join("releases", version, f.Dest), mode, func(w io.Writer) error {
		_, err := w.Write(out)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("file %s: %w", f.Dest, unsafeRoot(err))
	}
	return oci.FromBytes(out).String(), nil
}

// storedConfigJSON is c as the release record keeps it: every secret
// value and every database DSN sealed to the host key (made now on an
// appliance installed before host keys existed), never in the clear.
func storedConfigJSON(root string, c *config.Config) (json.RawMessage, error) {
	if c == nil || (len(c.Values) == 0 && len(c.Databases) == 0 && len(c.DSNs) == 0 && c.Sites == nil) {
		return nil, nil
	}
	out := *c
	out.Values = slices.Clone(c.Values)
	var key *sealed.Key
	seal := func(what string, plain string) ([]byte, error) {
		if key == nil {
			var err error
			if key, err = sealed.OpenKey(root); errors.Is(err, sealed.ErrNoKey) {
				key, err = sealed.CreateKey(root)
			}
			if err != nil {
				return nil, err
			}
		}
		b, err := key.Seal([]byte(plain))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return b, nil
	}
	for i, v := range out.Values {
		if v.Type != spec.TypeSecret || !v.Set || v.Sealed != nil {
			continue
		}
		b, err := seal("variable "+v.Name, v.Value)
		if err != nil {
			return nil, err
		}
		out.Values[i].Value, out.Values[i].Sealed = "", b
	}
	if len(c.DSNs) > 0 {
		out.SealedDSNs = map[string][]byte{}
		for _, name := range slices.Sorted(maps.Keys(c.DSNs)) {
			b, err := seal("database "+name, c.DSNs[name])
			if err != nil {
				return nil, err
			}
			out.SealedDSNs[name] = b
		}
	}
	return json.Marshal(&out)
}

// unseal returns c with its sealed values and DSNs opened with the host
// key.
func unseal(root string, c *config.Config) (*config.Config, error) {
	if c == nil {
		return nil, nil
	}
	out := *c
	out.Values = slices.Clone(c.Values)
	var key *sealed.Key
	open := func(what string, b []byte) (string, error) {
		if key == nil {
			var err error
			if key, err = sealed.OpenKey(root); err != nil {
				return "", fmt.Errorf("%s: %w", what, err)
			}
		}
		plain, err := key.Open(b)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		return string(plain), nil
	}
	for i, v := range out.Values {
		if v.Sealed == nil {
			continue
		}
		plain, err := open("variable "+v.Name, v.Sealed)
		if err != nil {
			return nil, err
		}
		out.Values[i].Value, out.Values[i].Sealed = plain, nil
	}
	if len(c.SealedDSNs) > 0 {
		out.DSNs, out.SealedDSNs = map[string]string{}, nil
		for name, b := range c.SealedDSNs {
			dsn, err := open("database "+name, b)
			if err != nil {
				return nil, err
			}
			out.DSNs[name] = dsn
		}
	}
	return &out, nil
}

// secretEnv splits a service's env: the entries that name a secret
// variable, which ferry serve resolves only as the process starts
// (SiteSecrets), and the others.
func secretEnv(c *config.Config, env map[string]string) (plain, secret map[string]string) {
	for k, v := range env {
		refs, _ := spec.Refs(v)
		isSecret := false
		for _, r := range refs {
			if val, ok := c.Lookup(r.Name); ok && r.Kind == spec.RefVar && val.Type == spec.TypeSecret {
				isSecret = true
			}
		}
		if isSecret {
			if secret == nil {
				secret = map[string]string{}
			}
			secret[k] = v
		} else {
			if plain == nil {
				plain = map[string]string{}
			}
			plain[k] = v
		}
	}
	return plain, secret
}

// SiteSecrets is ferry serve's ServiceSecrets: the env entries of svc
// that name a secret variable, with the values of its release's
// configuration, and FERRY_DB_NAME for each database given a PostgreSQL
// DSN, unsealed with the host key as the version starts.
func SiteSecrets(root string) func(ctx context.Context, version, component string, svc spec.Service) (ServiceSecrets, error) {
	return func(ctx context.Context, version, component string, svc spec.Service) (ServiceSecrets, error) {
		db, err := state.OpenReadOnly(root)
		if err != nil {
			return ServiceSecrets{}, err
		}
		rel, err := db.Release(version)
		db.Close()
		if err != nil {
			return ServiceSecrets{}, err
		}
		c, err := StoredConfig(rel)
		if err != nil || c == nil {
			return ServiceSecrets{}, err
		}
		_, secret := secretEnv(c, svc.Env)
		if len(secret) == 0 && len(c.SealedDSNs) == 0 {
			return ServiceSecrets{}, nil
		}
		if c, err = unseal(root, c); err != nil {
			return ServiceSecrets{}, err
		}
		out := ServiceSecrets{Env: map[string]string{}}
		b := ServiceBuiltins(c, root, version, svc.Name)
		for k, v := range secret {
			if out.Env[k], err = c.Expand(v, b); err != nil {
				return ServiceSecrets{}, fmt.Errorf("service %s: env %s: %w", svc.Name, k, err)
			}
		}
		// A PostgreSQL database's DSN, whole: it holds a password, so it
		// travels as a secret does.
		for name, dsn := range c.DSNs {
			out.Env["FERRY_DB_"+strings.ToUpper(name)] = dsn
		}
		return out, nil
	}
}

// templateFile returns the file of a file step when it is a template.
func templateFile(c bundle.Component, s Step) (bundle.File, bool) {
	if s.Kind != StepFile {
		return bundle.File{}, false
	}
	for _, f := range c.Files {
		if f.Dest == s.Name && f.Template {
			return f, true
		}
	}
	return bundle.File{}, false
}

// render places a template file rendered and records its digest with the
// release, so that `ferry check` knows what the file must hold.
func (r *run) render(ctx context.Context, st *store.Store, root, version string, f bundle.File) error {
	d, err := renderFile(ctx, st, root, version, f, r.cfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rel, err := r.db.Release(version)
	if err != nil {
		return err
	}
	if rel.Rendered == nil {
		rel.Rendered = map[string]string{}
	}
	rel.Rendered[f.Dest] = d
	return r.db.PutRelease(rel)
}

// maxValuesFile bounds a chart's values file that ferry expands.
const maxValuesFile = 64 << 20

// chartValuesOpener opens the blobs of a chart step, with the references
// of the component's values files expanded.
func chartValuesOpener(open func(string) (io.ReadCloser, error), c bundle.Component, cfg *config.Config, b config.Builtins) func(string) (io.ReadCloser, error) {
	values := map[string]bool{}
	for _, ch := range c.Charts {
		for _, v := range ch.Values {
			values[v] = true
		}
	}
	return func(d string) (io.ReadCloser, error) {
		rc, err := open(d)
		if err != nil || !values[d] {
			return rc, err
		}
		defer rc.Close()
		text, err := io.ReadAll(io.LimitReader(rc, maxValuesFile+1))
		if err != nil {
			return nil, err
		}
		if len(text) > maxValuesFile {
			return nil, fmt.Errorf("chart values %s: larger than the %d bytes ferry expands", d, maxValuesFile)
		}
		out, err := cfg.ExpandLines("values "+d, text, b)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(out)), nil
	}
}

// ConfigReport is the configuration of the current release, as `ferry
// config show` prints it.
func ConfigReport(db *state.DB) (config.Report, error) {
	current, err := db.Current()
	if err != nil {
		return config.Report{}, err
	}
	if current == "" {
		return config.Report{}, fmt.Errorf("%w: no release is installed", ErrNoRelease)
	}
	rel, err := db.Release(current)
	if err != nil {
		return config.Report{}, err
	}
	m, err := parseStored(rel)
	if err != nil {
		return config.Report{}, err
	}
	c, err := StoredConfig(rel)
	if err != nil {
		return config.Report{}, err
	}
	return config.NewReport(current, c, m.Variables), nil
}

// ConfigHistory is the configuration of every release kept on the host,
// oldest revision first: each release keeps the configuration it was
// installed with, which `ferry rollback` returns to with it.
func ConfigHistory(db *state.DB) ([]config.Report, error) {
	rels, err := db.Releases()
	if err != nil {
		return nil, err
	}
	out := []config.Report{}
	for _, rel := range rels {
		if rel.Status != statusActive && rel.Status != statusInactive {
			continue
		}
		m, err := parseStored(rel)
		if err != nil {
			return nil, err
		}
		c, err := StoredConfig(rel)
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue
		}
		out = append(out, config.NewReport(rel.Version, c, m.Variables))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out, nil
}

// configAudit is the audit record of a configuration applied: its
// revision and the names of the values the operator gave, with where
// from; never a value.
func configAudit(version string, c *config.Config) map[string]string {
	var given []string
	for _, v := range c.Values {
		switch v.Source.Kind {
		case config.FromFile, config.FromEnv, config.FromFlag, config.FromPrompt:
			given = append(given, v.Name+" ("+string(v.Source.Kind)+")")
		}
	}
	return map[string]string{"version": version, "revision": strconv.Itoa(c.Revision), "given": strings.Join(given, ", ")}
}
