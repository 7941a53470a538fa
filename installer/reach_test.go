package installer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/fixtures"
	"ferry/internal/testenv"
)

// An appliance root under a directory its services' account cannot enter
// is refused before anything is placed, naming the directory and the fix,
// instead of installing services that then fail to start with "permission
// denied". Failed before checkReach: the install committed and the
// service could not start.
func TestRootOutOfServicesReach(t *testing.T) {
	testenv.Root(t, "running services as another user")
	h := currentHost()
	base := fixtures.ServiceTempDir(t) // reachable by others up to here
	locked := filepath.Join(base, "locked")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o711); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, root string
		runAs      RunAs
		refused    bool
	}{
		{"existing user, locked", filepath.Join(locked, "appliance"), RunAs{Service: "api", Component: "c", User: "nobody"}, true},
		{"user to be created, locked", filepath.Join(locked, "appliance"), RunAs{Service: "api", Component: "c", User: ServiceUser, Default: true, Create: true}, true},
		{"existing user, open", filepath.Join(open, "appliance"), RunAs{Service: "api", Component: "c", User: "nobody"}, false},
		{"user: root, locked", filepath.Join(locked, "appliance"), RunAs{Service: "api", Component: "c", User: "root"}, false},
	} {
		err := h.checkAccounts(c.root, &Plan{Services: []RunAs{c.runAs}})
		switch {
		case c.refused && (!errors.Is(err, ErrServiceAccount) || !strings.Contains(err.Error(), "cannot enter "+locked) || !strings.Contains(err.Error(), "chmod o+x "+locked)):
			t.Errorf("%s: %v, want a refusal naming %s and the chmod that fixes it", c.name, err, locked)
		case !c.refused && err != nil:
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
