package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/internal/testenv"
)

// A service is not started from an appliance root under a directory its
// account cannot enter: CheckReach refuses, naming the directory and the
// fix, instead of the start failing with a bare
// "permission denied" (what make demo from a checkout under a 0700 home
// did). Fails with CheckReach returning nil.
func TestRootOutOfServicesReach(t *testing.T) {
	testenv.Root(t, "running services as another user")
	base := fixtures.ServiceTempDir(t) // others may pass through, up to here
	locked := filepath.Join(base, "locked")
	open := filepath.Join(base, "open")
	for _, dir := range []string{locked, open} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o711); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, parent, user string
		refused            bool
	}{
		{"nobody, locked", locked, "nobody", true},
		{"the default account, locked", locked, "", true},
		{"nobody, open", open, "nobody", false},
		{"user: root, locked", locked, "root", false},
	} {
		root := filepath.Join(c.parent, "appliance")
		run, err := PrepareService(t.Context(), root, "c", spec.Service{Name: "api", User: c.user})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		err = run.CheckReach(root, "api")
		switch {
		case c.refused && (!errors.Is(err, ErrServiceAccount) || !strings.Contains(err.Error(), "cannot enter "+locked) || !strings.Contains(err.Error(), "chmod o+x "+locked)):
			t.Errorf("%s: %v, want a refusal naming %s and the chmod that fixes it", c.name, err, locked)
		case !c.refused && err != nil:
			t.Errorf("%s: %v", c.name, err)
		}
		os.RemoveAll(root)
	}
}
