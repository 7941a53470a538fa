package installer

import (
	"context"
	"io"

	"ferry/bundle"
)

// Applier makes a kind of content take effect beyond placing files:
// migrations against a database, charts against Kubernetes. Options.Appliers
// maps a step kind (StepMigrations, StepChart) to one; without an applier the
// content of such a step is kept in the store, where a later apply finds it.
type Applier interface {
	// Apply runs step s of component c for release version. open reads a
	// blob from the store; every blob was checked against the signed
	// manifest when it was stored. Apply must be idempotent: after a crash
	// it runs again.
	Apply(ctx context.Context, s Step, c bundle.Component, version string, open func(digest string) (io.ReadCloser, error)) error
}
