package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ferry/bundle/spec"
	"ferry/installer/migrate"
	"ferry/installer/state"
)

// ServiceUser is the system user that services run as when ferry runs as
// root and a service names no user: an account with no login shell, no
// home and no rights beyond its own data directories. Install creates it
// (useradd --system, with a group of the same name) when it is missing;
// one name for every appliance on the host, so that nothing about it
// depends on the bundle.
const ServiceUser = "ferry-svc"

// ErrServiceAccount is returned when a service's user: or group: cannot be
// used on this host: the account does not exist, or ferry does not run as
// root and the service names another user than ferry's.
var ErrServiceAccount = errors.New("a service's user or group cannot be used on this host")

// dataDirMode is the mode of a service's data directory: its own user's,
// and nobody else's.
const dataDirMode fs.FileMode = 0o700

// RunAs is who a service runs as, as `ferry plan` shows it.
type RunAs struct {
	Component string `json:"component"`
	Service   string `json:"service"`
	User      string `json:"user"`
	// Group is the group the service names; empty is the user's primary
	// group.
	Group string `json:"group,omitempty"`
	// Default is set when the service names no user and runs as
	// ServiceUser.
	Default bool `json:"default,omitempty"`
	// Create is set when ServiceUser does not exist yet: install creates
	// it.
	Create bool `json:"create,omitempty"`
}

// String says who the service runs as, for `ferry plan`.
func (r RunAs) String() string {
	s := r.User
	if r.Group != "" {
		s += ", group " + r.Group
	}
	switch {
	case r.Create:
		s += " (no user: named; install creates this system user)"
	case r.Default:
		s += " (no user: named)"
	}
	return s
}

// host is who ferry runs as: whether it is root, and its user's name and
// primary group.
type host struct {
	root bool
	user string
	uid  uint32
	gid  uint32
}

// currentHost describes the running ferry.
func currentHost() host {
	h := host{root: os.Geteuid() == 0, uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
	h.user = strconv.Itoa(os.Geteuid())
	if u, err := user.LookupId(h.user); err == nil {
		h.user = u.Username
	}
	return h
}

// runAs says who svc of component runs as on h: the user it names, or
// ServiceUser when ferry is root, or ferry's own user.
func (h host) runAs(component string, svc spec.Service) RunAs {
	r := RunAs{Component: component, Service: svc.Name, User: svc.User, Group: svc.Group}
	switch {
	case r.User != "":
	case h.root:
		r.User, r.Default = ServiceUser, true
		if _, err := user.Lookup(ServiceUser); err != nil {
			r.Create = true
		}
	default:
		r.User = h.user
	}
	return r
}

// Account is a service's user and group resolved on this host.
type Account struct {
	User  string
	UID   uint32
	GID   uint32
	Group string
	// Switch is set when ferry runs as root: the process is started as
	// this user and group, with no supplementary groups. A ferry that is
	// not root can start processes only as itself.
	Switch bool
}

// Credential is what the process is started with: nil to run as ferry.
func (a Account) Credential() *syscall.Credential {
	if !a.Switch {
		return nil
	}
	return &syscall.Credential{Uid: a.UID, Gid: a.GID, Groups: []uint32{}}
}

// account resolves r on h.
func (h host) account(r RunAs) (Account, error) {
	where := fmt.Sprintf("service %s (component %s)", r.Service, r.Component)
	u, err := user.Lookup(r.User)
	if err != nil {
		if r.Default {
			return Account{}, fmt.Errorf("%w: %s runs as %s, which does not exist: ferry install creates it", ErrServiceAccount, where, r.User)
		}
		return Account{}, fmt.Errorf("%w: %s names user %q, which does not exist on this host: create it, or change user: in ferry.yaml", ErrServiceAccount, where, r.User)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return Account{}, fmt.Errorf("%w: %s: user %s: %w", ErrServiceAccount, where, r.User, err)
	}
	a := Account{User: r.User, UID: uint32(uid), GID: uint32(gid), Group: u.Gid}
	if g, err := user.LookupGroupId(u.Gid); err == nil {
		a.Group = g.Name
	}
	if r.Group != "" {
		g, err := user.LookupGroup(r.Group)
		if err != nil {
			return Account{}, fmt.Errorf("%w: %s names group %q, which does not exist on this host: create it, or change group: in ferry.yaml", ErrServiceAccount, where, r.Group)
		}
		gid, err := strconv.ParseUint(g.Gid, 10, 32)
		if err != nil {
			return Account{}, fmt.Errorf("%w: %s: group %s: %w", ErrServiceAccount, where, r.Group, err)
		}
		a.GID, a.Group = uint32(gid), r.Group
	}
	a.Switch = h.root
	if !h.root && (a.UID != h.uid || a.GID != h.gid) {
		return Account{}, fmt.Errorf("%w: %s runs as user %s, group %s, but ferry runs as %s and only root can start a process as another user: run ferry as root, or remove user: and group: from ferry.yaml",
			ErrServiceAccount, where, a.User, a.Group, h.user)
	}
	return a, nil
}

// checkAccounts refuses a plan whose services cannot run as planned on h,
// before anything is placed. ServiceUser when it is to be created is
// fine; a group it names must exist all the same.
func (h host) checkAccounts(p *Plan) error {
	var errs []error
	for _, r := range p.Services {
		if r.Create {
			if r.Group != "" {
				if _, err := user.LookupGroup(r.Group); err != nil {
					errs = append(errs, fmt.Errorf("%w: service %s (component %s) names group %q, which does not exist on this host: create it, or change group: in ferry.yaml", ErrServiceAccount, r.Service, r.Component, r.Group))
				}
			}
			continue
		}
		if _, err := h.account(r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// useraddTries bounds how often ensureServiceUser runs useradd: another
// ferry (or any tool) holding the lock of /etc/passwd makes it fail, and
// that one may be creating the same user.
const useraddTries = 5

// ensureServiceUser creates ServiceUser when it does not exist, with the
// system's useradd. It reports whether it created it.
func ensureServiceUser(ctx context.Context) (bool, error) {
	return ensureSystemUser(ctx, ServiceUser)
}

// ensureSystemUser creates the system user name, with a group of its name,
// no home and no login shell, unless it exists.
func ensureSystemUser(ctx context.Context, name string) (bool, error) {
	if _, err := user.Lookup(name); err == nil {
		return false, nil
	}
	prog, err := systemTool("useradd")
	if err != nil {
		return false, fmt.Errorf("%w: creating the system user %s: %w; create it yourself (useradd --system --user-group %s), or name a user: for each service", ErrServiceAccount, name, err, name)
	}
	shell := "/bin/false"
	for _, s := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if _, err := os.Stat(s); err == nil {
			shell = s
			break
		}
	}
	var last error
	for try := range useraddTries {
		if try > 0 {
			select {
			case <-ctx.Done():
				return false, context.Cause(ctx)
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			}
		}
		// A group of the name left behind (a user removed without it) is
		// taken as the user's group rather than refused.
		group := []string{"--user-group"}
		if _, err := user.LookupGroup(name); err == nil {
			group = []string{"--gid", name}
		}
		args := append([]string{"--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", shell, "--comment", "ferry services"}, group...)
		out, err := exec.CommandContext(ctx, prog, append(args, name)...).CombinedOutput()
		if err == nil {
			return true, nil
		}
		// Another ferry may have created it meanwhile.
		if _, lerr := user.Lookup(name); lerr == nil {
			return false, nil
		}
		last = fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(string(out)))
	}
	return false, fmt.Errorf("%w: creating the system user %s: %w", ErrServiceAccount, name, last)
}

// createServiceUser creates ServiceUser if plan needs it, once, before the
// steps of the install run in parallel. The user outlives the install: a
// rollback or a failed install does not remove an account that processes
// and files may belong to.
func createServiceUser(ctx context.Context, db *state.DB, plan *Plan, log *slog.Logger) error {
	for _, r := range plan.Services {
		if !r.Create {
			continue
		}
		created, err := ensureServiceUser(ctx)
		if err != nil {
			return err
		}
		if created {
			log.Info("created the system user services run as", "user", ServiceUser)
			_ = db.Audit("service.user.created", map[string]string{"user": ServiceUser})
		}
		return nil
	}
	return nil
}

// systemTool finds an administration program in PATH or the usual sbin
// directories, which a PATH set for a non-root user leaves out.
func systemTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed", name)
}

// DataDir is the one directory service may write, <root>/data/SERVICE.
func DataDir(root, service string) string {
	return filepath.Join(root, "data", service)
}

// ServiceRun is how a service is started on this host.
type ServiceRun struct {
	Account Account
	// DataDir is the service's own writable directory.
	DataDir string
}

// PrepareService makes the host ready to run svc of component from the
// appliance at root, and says how to start it: the account it runs as
// (creating ServiceUser if it is missing), its data directory made and
// owned by that account, and the root and its data directory passable
// by it. It changes nothing that is already so, and is safe to call again.
func PrepareService(ctx context.Context, root, component string, svc spec.Service) (ServiceRun, error) {
	h := currentHost()
	r := h.runAs(component, svc)
	if r.Default && h.root {
		if _, err := ensureServiceUser(ctx); err != nil {
			return ServiceRun{}, err
		}
	}
	a, err := h.account(r)
	if err != nil {
		return ServiceRun{}, err
	}
	run := ServiceRun{Account: a, DataDir: DataDir(root, svc.Name)}
	if err := prepareDataDir(root, run); err != nil {
		return ServiceRun{}, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	// The embedded databases it is given as FERRY_DB_NAME.
	if a.Switch {
		if err := migrate.ShareSQLite(root, a.UID); err != nil {
			return ServiceRun{}, fmt.Errorf("service %s: %w", svc.Name, err)
		}
	}
	return run, nil
}

// prepareDataDir lets others pass through the root and <root>/data (not
// list or write them), and makes the service's data directory, owned by
// its account. A data directory that exists gets its owner set; what is
// inside is left as it is, because walking a tree that a service writes,
// as root, could be led by its links to any file of the host.
func prepareDataDir(root string, run ServiceRun) error {
	data := filepath.Dir(run.DataDir)
	if err := os.MkdirAll(data, 0o711); err != nil {
		return err
	}
	for _, dir := range []string{root, data} {
		if err := addSearch(dir); err != nil {
			return err
		}
	}
	fi, err := os.Lstat(run.DataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(run.DataDir, dataDirMode); err != nil {
			return err
		}
		if err := os.Chmod(run.DataDir, dataDirMode); err != nil { // whatever the umask
			return err
		}
		if fi, err = os.Lstat(run.DataDir); err != nil {
			return err
		}
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("data directory %s is not a directory (%s): remove it", run.DataDir, fi.Mode().Type())
	}
	if !run.Account.Switch {
		return nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == run.Account.UID && st.Gid == run.Account.GID {
		return nil
	}
	if err := os.Lchown(run.DataDir, int(run.Account.UID), int(run.Account.GID)); err != nil {
		return fmt.Errorf("give data directory %s to %s: %w", run.DataDir, run.Account.User, err)
	}
	return nil
}

// addSearch gives others the search (x) bit on dir, so a service run as
// another user can reach what is inside by name; it cannot list dir.
func addSearch(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o001 != 0 {
		return nil
	}
	return os.Chmod(dir, fi.Mode().Perm()|0o001)
}
