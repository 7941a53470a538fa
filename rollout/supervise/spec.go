package supervise

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults for the zero values of Spec's tuning fields.
const (
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultStableAfter   = 10 * time.Second
	DefaultLogMaxSizeMB  = 10
	DefaultLogMaxBackups = 5
)

// ErrInvalidSpec is returned by Start for a Spec it cannot run.
var ErrInvalidSpec = errors.New("invalid service spec")

// Spec is what the supervisor needs to run one version of one service.
type Spec struct {
	// Service and Version name the instance in logs, file names and the
	// FERRY_SERVICE and FERRY_VERSION variables. They may hold letters,
	// digits and ".-_+", and may not start with a dot.
	Service string
	Version string

	// Command is the program and its arguments. A program name with a slash
	// is relative to Dir; one without is looked up in PATH. "${PORT}" in any
	// argument is replaced by the assigned port.
	Command []string
	// Dir is the release directory: the working directory of the process.
	// Empty means the supervisor's working directory.
	Dir string
	// Env is the service's declared environment. "${PORT}" in a value is
	// replaced by the assigned port. PORT, FERRY_SERVICE, FERRY_VERSION and
	// (with a DataDir) FERRY_DATA cannot be overridden.
	Env map[string]string

	// DataDir is the service's own writable directory, passed to it as
	// FERRY_DATA. Empty passes none. The supervisor neither makes nor
	// changes it.
	DataDir string

	// Credential is the user and group the process runs as; nil runs it as
	// the supervisor's user. Its Groups are ignored: a process started with
	// a Credential has no supplementary groups, so it keeps none of the
	// supervisor's (root's) groups.
	Credential *syscall.Credential

	// LogDir receives SERVICE-VERSION.log and its rotated backups.
	LogDir string
	// LogMaxSizeMB is the size in megabytes at which the log is rotated
	// (default DefaultLogMaxSizeMB); LogMaxBackups is how many rotated files
	// are kept (default DefaultLogMaxBackups).
	LogMaxSizeMB  int
	LogMaxBackups int

	// RunDir receives SERVICE-VERSION.pgid while the process runs. Empty
	// means a directory "run" beside LogDir.
	RunDir string

	// MinBackoff is the wait before the first restart after an unexpected
	// exit; each further restart doubles it up to MaxBackoff. A process
	// that stayed up for StableAfter starts again from MinBackoff.
	MinBackoff  time.Duration
	MaxBackoff  time.Duration
	StableAfter time.Duration
	// MaxRestarts, when positive, is how many restarts are tried before the
	// instance is given up as Failed. Zero means restart forever.
	MaxRestarts int

	// Logger receives the supervisor's own events (start, exit, restart).
	// Nil discards them.
	Logger *slog.Logger
}

// normalise checks s and returns a copy with defaults filled in, Dir, LogDir
// and RunDir made absolute and the program resolved to a path.
func (s Spec) normalise() (Spec, error) {
	if err := checkName("service", s.Service); err != nil {
		return s, err
	}
	if err := checkName("version", s.Version); err != nil {
		return s, err
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return s, fmt.Errorf("%w: service %s %s has no command", ErrInvalidSpec, s.Service, s.Version)
	}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return s, fmt.Errorf("%w: service %s %s: environment variable %q: names may not be empty or hold '=' or NUL, values may not hold NUL", ErrInvalidSpec, s.Service, s.Version, k)
		}
	}
	if s.LogDir == "" {
		return s, fmt.Errorf("%w: service %s %s has no log directory", ErrInvalidSpec, s.Service, s.Version)
	}
	if s.MinBackoff < 0 || s.MaxBackoff < 0 || s.StableAfter < 0 || s.MaxRestarts < 0 || s.LogMaxSizeMB < 0 || s.LogMaxBackups < 0 {
		return s, fmt.Errorf("%w: service %s %s: negative backoff, restart or log limits", ErrInvalidSpec, s.Service, s.Version)
	}
	var err error
	if s.Dir, err = filepath.Abs(s.Dir); err != nil {
		return s, fmt.Errorf("service %s %s: release directory: %w", s.Service, s.Version, err)
	}
	if s.LogDir, err = filepath.Abs(s.LogDir); err != nil {
		return s, fmt.Errorf("service %s %s: log directory: %w", s.Service, s.Version, err)
	}
	if s.DataDir != "" {
		if s.DataDir, err = filepath.Abs(s.DataDir); err != nil {
			return s, fmt.Errorf("service %s %s: data directory: %w", s.Service, s.Version, err)
		}
	}
	if s.RunDir == "" {
		s.RunDir = filepath.Join(filepath.Dir(s.LogDir), "run")
	}
	if s.RunDir, err = filepath.Abs(s.RunDir); err != nil {
		return s, fmt.Errorf("service %s %s: run directory: %w", s.Service, s.Version, err)
	}
	s.Command = append([]string(nil), s.Command...)
	if s.Command[0], err = resolveProgram(s.Dir, s.Command[0]); err != nil {
		return s, fmt.Errorf("service %s %s: %w", s.Service, s.Version, err)
	}
	if s.MinBackoff == 0 {
		s.MinBackoff = DefaultMinBackoff
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = DefaultMaxBackoff
	}
	s.MaxBackoff = max(s.MaxBackoff, s.MinBackoff)
	if s.StableAfter == 0 {
		s.StableAfter = DefaultStableAfter
	}
	if s.LogMaxSizeMB == 0 {
		s.LogMaxSizeMB = DefaultLogMaxSizeMB
	}
	if s.LogMaxBackups == 0 {
		s.LogMaxBackups = DefaultLogMaxBackups
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// checkName accepts names that are safe as parts of file names.
func checkName(what, name string) error {
	ok := name != "" && name[0] != '.'
	for _, r := range name {
		if !nameRune(r) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%w: %s %q: use letters, digits and .-_+, not starting with a dot", ErrInvalidSpec, what, name)
	}
	return nil
}

// nameRune reports whether r may appear in a name checked by checkName.
func nameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_+", r)
}

// resolveProgram makes a program name a path the way a shell would, except
// that a relative path is taken from the release directory.
func resolveProgram(dir, name string) (string, error) {
	switch {
	case filepath.IsAbs(name):
		return name, nil
	case strings.ContainsRune(name, '/'):
		return filepath.Join(dir, name), nil
	default:
		path, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("program %q is not in PATH: %w", name, err)
		}
		return path, nil
	}
}

// args returns the command line with ${PORT} replaced.
func (s Spec) args(port int) []string {
	out := make([]string, len(s.Command))
	for i, a := range s.Command {
		out[i] = expandPort(a, port)
	}
	return out
}

// environ returns the process environment, sorted by name: the inherited
// basics, then the declared variables, then the supervisor's own.
func (s Spec) environ(port int) []string {
	env := map[string]string{}
	// The only variables taken from the supervisor's environment; see the
	// package documentation for why.
	for _, k := range []string{"PATH", "HOME", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	for k, v := range s.Env {
		env[k] = expandPort(v, port)
	}
	if s.DataDir != "" {
		env["FERRY_DATA"] = s.DataDir
	}
	env["PORT"] = strconv.Itoa(port)
	env["FERRY_SERVICE"] = s.Service
	env["FERRY_VERSION"] = s.Version
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func expandPort(s string, port int) string {
	return strings.ReplaceAll(s, "${PORT}", strconv.Itoa(port))
}

// name is the base name of the instance's log and pgid files.
func (s Spec) name() string { return s.Service + "-" + s.Version }
