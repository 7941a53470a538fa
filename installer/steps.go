package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/atomicfile"
)

// runStep performs one planned step; each is idempotent, so a step that
// ran before a crash runs again safely.
func runStep(ctx context.Context, st *store.Store, refs *sync.Mutex, sh *sharer, appliers map[string]Applier, root string, m *bundle.Manifest, c bundle.Component, s Step, cfg *config.Config) error {
	switch s.Kind {
	case StepMigrations, StepChart:
		if err := requireBlobs(st, s.Digests); err != nil {
			return err
		}
		if a := appliers[s.Kind]; a != nil {
			open := func(d string) (io.ReadCloser, error) { return st.Open(d) }
			if s.Kind == StepChart && cfg != nil {
				open = chartValuesOpener(open, c, cfg, ReleaseBuiltins(cfg, root, m.Version))
			}
			return a.Apply(ctx, s, c, m.Version, open)
		}
		return nil
	case StepImage:
		for _, img := range c.Images {
			if img.Name == s.Name {
				refs.Lock()
				defer refs.Unlock()
				return addImageRef(st, img)
			}
		}
		return fmt.Errorf("image %s is not in component %s", s.Name, c.Name)
	case StepFile:
		for _, f := range c.Files {
			if f.Dest == s.Name {
				_, err := sh.place(st, root, m.Version, f)
				return err
			}
		}
		return fmt.Errorf("file %s is not in component %s", s.Name, c.Name)
	case StepService:
		// A service's definition is part of the release's signed manifest,
		// which the state keeps: ferry serve runs it from there, and
		// nothing of it is placed on disk, where it could be edited or
		// planted. The step prepares the account it runs as.
		for _, svc := range c.Services {
			if svc.Name == s.Name {
				_, err := PrepareService(ctx, root, c.Name, svc)
				return err
			}
		}
		return fmt.Errorf("service %s is not in component %s", s.Name, c.Name)
	}
	return fmt.Errorf("unknown step kind %q", s.Kind)
}

func requireBlobs(st *store.Store, digests []string) error {
	for _, d := range digests {
		has, err := st.Has(d)
		if err != nil {
			return err
		}
		if !has {
			return fmt.Errorf("blob %s is missing from the store", d)
		}
	}
	return nil
}

// addImageRef makes the store's registry serve img under its name.
func addImageRef(st *store.Store, img bundle.Image) error {
	if err := requireBlobs(st, img.Blobs); err != nil {
		return err
	}
	refs, err := st.Refs()
	if err != nil {
		return err
	}
	out := refs[:0]
	for _, r := range refs {
		if r.Name != img.Name {
			out = append(out, r)
		}
	}
	out = append(out, store.Ref{Name: img.Name, Digest: img.Digest, MediaType: img.MediaType, Size: img.Size})
	return st.SetRefs(out)
}

// unsafeRoot classifies a write refused for a symlink in its way as the
// root being unsafe.
func unsafeRoot(err error) error {
	if errors.Is(err, atomicfile.ErrLinkInPath) {
		return fmt.Errorf("%w: %w", state.ErrUnsafeRoot, err)
	}
	return err
}

// placedMode is the mode a release file is placed with: its signed mode
// without write for group and others. Release files belong to root, and
// a service, which runs as another user, must not be able to change the
// code it or another service runs, whatever mode the vendor wrote.
func placedMode(signed os.FileMode) os.FileMode {
	return signed &^ 0o022
}

// placedModeOf is the mode file f is placed with: its signed mode, an
// octal string in the manifest, through placedMode.
func placedModeOf(f bundle.File) (os.FileMode, error) {
	signed, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("file %s: mode %q: %w", f.Dest, f.Mode, err)
	}
	return placedMode(os.FileMode(signed)), nil
}
