package supervise

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEnvironIsMinimal(t *testing.T) {
	t.Setenv("FERRY_PASSPHRASE", "secret")
	t.Setenv("HOME", "/home/ferry")
	s := Spec{
		Service: "api", Version: "1.4.0",
		Env: map[string]string{"LISTEN": "127.0.0.1:${PORT}", "PORT": "80", "FERRY_SERVICE": "other", "MODE": "x"},
	}
	env := s.environ(4321)
	for _, want := range []string{"HOME=/home/ferry", "LISTEN=127.0.0.1:4321", "PORT=4321", "FERRY_SERVICE=api", "FERRY_VERSION=1.4.0", "MODE=x"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment %q lacks %s", env, want)
		}
	}
	for _, kv := range env {
		if kv == "FERRY_PASSPHRASE=secret" || kv == "PORT=80" || kv == "FERRY_SERVICE=other" {
			t.Errorf("environment holds %s", kv)
		}
	}
	if !slices.IsSorted(env) {
		t.Errorf("environment not sorted: %q", env)
	}
}

func TestArgsExpandPort(t *testing.T) {
	s := Spec{Command: []string{"/bin/api", "--listen", "127.0.0.1:${PORT}", "$PORT"}}
	got := s.args(8081)
	want := []string{"/bin/api", "--listen", "127.0.0.1:8081", "$PORT"}
	if !slices.Equal(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
}

func TestNormalize(t *testing.T) {
	dir := t.TempDir()
	good := Spec{Service: "api", Version: "1.4.0+build.1", Command: []string{"bin/api"}, Dir: dir, LogDir: filepath.Join(dir, "logs")}
	s, err := good.normalise()
	if err != nil {
		t.Fatal(err)
	}
	if s.Command[0] != filepath.Join(dir, "bin/api") || s.RunDir != filepath.Join(dir, "run") || s.MinBackoff != DefaultMinBackoff || s.Logger == nil {
		t.Errorf("normalised to %+v", s)
	}
	if good.Command[0] != "bin/api" {
		t.Error("normalise changed the caller's command")
	}
	if s, err := (Spec{Service: "a", Version: "1", Command: []string{"sh"}, LogDir: "l"}).normalise(); err != nil || !filepath.IsAbs(s.Command[0]) {
		t.Errorf("sh resolved to %q, %v; want a path from PATH", s.Command[0], err)
	}

	for name, mod := range map[string]func(*Spec){
		"no service":        func(s *Spec) { s.Service = "" },
		"slash in service":  func(s *Spec) { s.Service = "a/b" },
		"dot service":       func(s *Spec) { s.Service = ".." },
		"space in version":  func(s *Spec) { s.Version = "1 2" },
		"no command":        func(s *Spec) { s.Command = nil },
		"empty program":     func(s *Spec) { s.Command = []string{""} },
		"no log dir":        func(s *Spec) { s.LogDir = "" },
		"= in env name":     func(s *Spec) { s.Env = map[string]string{"A=B": "c"} },
		"NUL in env value":  func(s *Spec) { s.Env = map[string]string{"A": "b\x00"} },
		"negative restarts": func(s *Spec) { s.MaxRestarts = -1 },
	} {
		s := good
		mod(&s)
		if _, err := s.normalise(); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: %v, want ErrInvalidSpec", name, err)
		}
	}
	s = good
	s.Command = []string{"no-such-program-anywhere"}
	if _, err := s.normalise(); err == nil {
		t.Error("a program missing from PATH was accepted")
	}
}

func TestBackoffDoublesToCapAndResets(t *testing.T) {
	b := backoff{min: 100, max: 800, stableAfter: 1000}
	var got []int64
	for range 6 {
		got = append(got, int64(b.after(10)))
	}
	got = append(got, int64(b.after(1000)), int64(b.after(10)))
	want := []int64{100, 200, 400, 800, 800, 800, 100, 200}
	if !slices.Equal(got, want) {
		t.Errorf("backoffs %v, want %v", got, want)
	}
}

func TestStartFailsForMissingProgram(t *testing.T) {
	spec := shSpec(t, "")
	spec.Command = []string{"bin/missing"}
	if _, err := Start(t.Context(), spec); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start: %v, want a not-exist error", err)
	}
}
