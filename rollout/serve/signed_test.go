package serve

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ferry/installer/state"
)

// TestServeRunsSignedServicesOnly: ferry serve runs the services of the
// current release's signed manifest, kept in the state, and nothing found
// in the release directory: neither a definition planted there (a service
// the manifest does not have) nor an edited one (another command for a
// signed service) runs.
func TestServeRunsSignedServicesOnly(t *testing.T) {
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, ""))
	defs := filepath.Join(a.root, "releases", "1.0.0", ".ferry", "services")
	must(t, os.MkdirAll(defs, 0o755))
	plant := func(name, component, mark string) {
		def := map[string]any{"component": component, "service": map[string]any{
			"name":    name,
			"command": []string{"/bin/sh", "-c", "touch " + mark + "; exec bin/testservice --listen 127.0.0.1:${PORT} --version 1.0.0"},
		}}
		data, err := json.Marshal(def)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(defs, name+".json"), data, 0o644))
	}
	planted, edited := filepath.Join(a.dir, "planted-ran"), filepath.Join(a.dir, "edited-ran")
	plant("planted", "api", planted)
	plant("api", "api", edited)

	a.start(100 * time.Millisecond)
	st := a.waitStatus("every service healthy", func(st []ServiceStatus) bool {
		for _, s := range st {
			if len(s.Versions) == 0 || !s.Versions[0].Healthy {
				return false
			}
		}
		return len(st) >= 2
	}, 30*time.Second)
	var names []string
	for _, s := range st {
		names = append(names, s.Service)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"api", "worker"}) {
		t.Errorf("serving %v, want the signed services [api worker]", names)
	}
	for _, mark := range []string{planted, edited} {
		if _, err := os.Stat(mark); err == nil {
			t.Errorf("%s: a definition from the release directory ran", filepath.Base(mark))
		}
	}
}

// TestServeRefusesUnsafeRoot: ferry serve runs what the root holds, so a
// root its group or others may write is refused before anything starts.
func TestServeRefusesUnsafeRoot(t *testing.T) {
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, ""))
	must(t, os.Chmod(a.root, 0o777))
	// Bounded: a serve that does not refuse runs until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := Run(ctx, Options{Root: a.root, Tick: time.Second, StopGrace: time.Second})
	if !errors.Is(err, state.ErrUnsafeRoot) {
		t.Fatalf("got %v, want %v", err, state.ErrUnsafeRoot)
	}
	if _, err := os.Stat(filepath.Join(a.root, "run")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("run/ was made (%v)", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
