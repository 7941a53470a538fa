package installer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/internal/testenv"
)

// TestPlanShowsWhoServicesRunAs: run as root, a service that names no user
// runs as the unprivileged ServiceUser, root is only ever named, and plan
// says which.
func TestPlanShowsWhoServicesRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("who services run as by default depends on ferry running as root")
	}
	m := manifest()
	m.Components[2].Services = []spec.Service{{Name: "api"}, {Name: "admin", User: "root"}, {Name: "spool", User: "nobody", Group: "nogroup"}}
	p, err := MakePlan(m, "sha256:x", Selection{})
	if err != nil {
		t.Fatal(err)
	}
	_, missing := user.Lookup(ServiceUser)
	want := []RunAs{
		{Component: "api", Service: "api", User: ServiceUser, Default: true, Create: missing != nil},
		{Component: "api", Service: "admin", User: "root"},
		{Component: "api", Service: "spool", User: "nobody", Group: "nogroup"},
	}
	if len(p.Services) != len(want) {
		t.Fatalf("plan services %+v, want %+v", p.Services, want)
	}
	for i := range want {
		if p.Services[i] != want[i] {
			t.Errorf("service %d: %+v, want %+v", i, p.Services[i], want[i])
		}
	}
	if s := p.Services[0].String(); !strings.HasPrefix(s, ServiceUser+" (no user: named") {
		t.Errorf("default shown as %q", s)
	}
	if s := p.Services[1].String(); s != "root" {
		t.Errorf("user: root shown as %q", s)
	}
}

// TestServiceAccountRules: who a service runs as, by whether ferry is root.
func TestServiceAccountRules(t *testing.T) {
	self, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	root := host{root: true}
	if r := root.runAs("c", spec.Service{Name: "s"}); r.User != ServiceUser || !r.Default {
		t.Errorf("root, no user: %+v, want %s by default", r, ServiceUser)
	}
	if r := root.runAs("c", spec.Service{Name: "s", User: "root"}); r.User != "root" || r.Default {
		t.Errorf("root, user: root: %+v", r)
	}
	// A ferry that is not root runs services as itself, and refuses one
	// that names another user.
	alice := host{user: "alice-not-root", uid: 4242, gid: 4242}
	if r := alice.runAs("c", spec.Service{Name: "s"}); r.User != "alice-not-root" || r.Default {
		t.Errorf("not root, no user: %+v, want ferry's user", r)
	}
	_, err = alice.account(alice.runAs("c", spec.Service{Name: "s", User: "root"}))
	if !errors.Is(err, ErrServiceAccount) || !strings.Contains(err.Error(), "only root can start a process as another user") {
		t.Errorf("not root, user: root: %v", err)
	}
	// Ferry's own user is fine when not root; no credential is needed.
	me := currentHost()
	me.root = false
	if a, err := me.account(me.runAs("c", spec.Service{Name: "s", User: self.Username})); err != nil || a.Credential() != nil {
		t.Errorf("not root, user: %s (ferry's own): %+v, %v", self.Username, a, err)
	}
	_, err = root.account(root.runAs("c", spec.Service{Name: "s", User: "no-such-user-ferry"}))
	if !errors.Is(err, ErrServiceAccount) || !strings.Contains(err.Error(), `names user "no-such-user-ferry", which does not exist`) {
		t.Errorf("unknown user: %v", err)
	}
	_, err = root.account(root.runAs("c", spec.Service{Name: "s", User: "root", Group: "no-such-group-ferry"}))
	if !errors.Is(err, ErrServiceAccount) || !strings.Contains(err.Error(), `names group "no-such-group-ferry"`) {
		t.Errorf("unknown group: %v", err)
	}
	// As root, even user: root gets a credential: it clears the
	// supplementary groups.
	a, err := root.account(root.runAs("c", spec.Service{Name: "s", User: "root"}))
	if err != nil {
		t.Fatal(err)
	}
	if c := a.Credential(); c == nil || c.Uid != 0 || c.Groups == nil || len(c.Groups) != 0 {
		t.Errorf("root's credential %+v, want uid 0 and an empty group list", c)
	}
}

// TestPrepareServiceDataDir: install makes the service user, gives it its
// data directory (0700) and lets it pass through the root and data/
// without making them readable or writable by it.
func TestPrepareServiceDataDir(t *testing.T) {
	testenv.Root(t, "creating the service user")
	root := filepath.Join(fixtures.ServiceTempDir(t), "root")
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	run, err := PrepareService(t.Context(), root, "api", spec.Service{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(ServiceUser)
	if err != nil {
		t.Fatalf("%s was not created: %v", ServiceUser, err)
	}
	if run.Account.User != ServiceUser || u.Uid == "0" || run.Account.Credential() == nil {
		t.Fatalf("account %+v", run.Account)
	}
	for path, want := range map[string]os.FileMode{root: 0o701, filepath.Join(root, "data"): 0o701, run.DataDir: 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
	}
	st, _ := mustStat(t, run.DataDir).Sys().(*syscall.Stat_t)
	if st == nil || st.Uid != run.Account.UID || st.Gid != run.Account.GID {
		t.Errorf("data directory owned by %v, want %d:%d", st, run.Account.UID, run.Account.GID)
	}
	// Again: nothing changes, nothing fails.
	if _, err := PrepareService(t.Context(), root, "api", spec.Service{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	// A data directory replaced by a link is refused, not followed.
	other := filepath.Join(root, "data", "other")
	if err := os.Symlink("/etc", other); err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareService(t.Context(), root, "api", spec.Service{Name: "other"}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("data directory that is a link: %v", err)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestEnsureSystemUser creates a system user the way install creates
// ServiceUser (under another name, removed afterwards): no login shell, no
// home, a group of its name, or the group of its name left behind.
func TestEnsureSystemUser(t *testing.T) {
	testenv.Root(t, "creating users")
	if _, err := systemTool("useradd"); err != nil {
		t.Skip(err)
	}
	for _, leftover := range []bool{false, true} {
		name := fmt.Sprintf("ferrytest%d", os.Getpid()%100000)
		if leftover {
			name += "g"
		}
		t.Cleanup(func() {
			// Either is gone already when the test removed it or never
			// made it: nothing to report.
			_ = exec.Command("userdel", name).Run()
			_ = exec.Command("groupdel", name).Run()
		})
		if leftover {
			if out, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
				t.Fatalf("groupadd: %v: %s", err, out)
			}
		}
		created, err := ensureSystemUser(t.Context(), name)
		if err != nil || !created {
			t.Fatalf("%s (leftover group %v): created %v, %v", name, leftover, created, err)
		}
		u, err := user.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil || g.Name != name {
			t.Errorf("%s's group is %v (%v), want %s", name, g, err, name)
		}
		if uid, _ := strconv.Atoi(u.Uid); uid == 0 || u.HomeDir != "/nonexistent" {
			t.Errorf("%s: uid %s, home %s", name, u.Uid, u.HomeDir)
		}
		if _, err := os.Stat(u.HomeDir); err == nil {
			t.Errorf("%s has a home directory %s", name, u.HomeDir)
		}
		if out, _ := exec.Command("getent", "passwd", name).Output(); !strings.Contains(string(out), "nologin") && !strings.Contains(string(out), "/bin/false") {
			t.Errorf("%s can log in: %s", name, out)
		}
		if created, err := ensureSystemUser(t.Context(), name); err != nil || created {
			t.Errorf("again: created %v, %v; want nothing done", created, err)
		}
	}
}
