package config

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"ferry/bundle/spec"
)

// Bounds of one rendering: a template that writes more, or runs longer,
// is refused. Both come from the bundle, which may be hostile even when
// signed, and text/template has no bound of its own.
const (
	MaxRendered   = 16 << 20
	RenderTimeout = 10 * time.Second
)

// ErrTemplate is a template file that does not render.
var ErrTemplate = errors.New("template does not render")

// TemplateData is what a template sees: .var.NAME (an int as a number, a
// bool as a boolean, the rest as text; an unset value as empty text) and
// .ferry.version, .ferry.root, .ferry.data, .ferry.db.NAME.
func (c *Config) TemplateData(b Builtins) map[string]any {
	vars := map[string]any{}
	for _, v := range c.Values {
		vars[v.Name] = typed(v)
	}
	dbs := map[string]any{}
	for k, v := range b.DBs {
		dbs[k] = v
	}
	return map[string]any{
		spec.RefVar:   vars,
		spec.RefFerry: map[string]any{"version": b.Version, "root": b.Root, "data": b.Data, "db": dbs},
	}
}

func typed(v Value) any {
	if !v.Set {
		return ""
	}
	switch v.Type {
	case spec.TypeInt:
		if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			return n
		}
	case spec.TypeBool:
		return v.Value == "true"
	}
	return v.Value
}

// Render renders the template text named name with the configuration
// and b. The output is bounded by MaxRendered and the time it takes by
// RenderTimeout (a template still running then is abandoned, and runs on
// until it ends in the background).
func (c *Config) Render(ctx context.Context, name string, text []byte, b Builtins) ([]byte, error) {
	t, _, err := spec.ParseTemplate(name, string(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	data := c.TemplateData(b)
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	w := &boundedWriter{max: MaxRendered}
	go func() {
		err := t.Execute(w, data)
		done <- result{w.buf, err}
	}()
	ctx, cancel := context.WithTimeout(ctx, RenderTimeout)
	defer cancel()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTemplate, r.err)
		}
		return r.out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %s: still running after %s", ErrTemplate, name, RenderTimeout)
	}
}

// boundedWriter keeps what a template writes, up to max bytes.
type boundedWriter struct {
	buf []byte
	max int
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.max {
		return 0, fmt.Errorf("output larger than %d bytes", w.max)
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}
