package updates

import (
	"errors"
	"testing"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
		bad  bool
	}{
		{"1.0.0", "1.0.0", 0, false},
		{"1.0.1", "1.0.0", 1, false},
		{"1.0.0", "1.0.1", -1, false},
		{"1.10.0", "1.9.0", 1, false}, // numeric, not lexical
		{"1.0.0-rc.1", "1.0.0", -1, false},
		{"1.0.0+build.2", "1.0.0+build.1", 0, false}, // build metadata does not order
		{"v1.0.0", "1.0.0", 0, true},
		{"1.0", "1.0.0", 0, true},
		{"1.0.0", "", 0, true},
	} {
		got, err := Compare(tc.a, tc.b)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d, error %v", tc.a, tc.b, got, err, tc.want, tc.bad)
		}
	}
}

func TestCheckNewer(t *testing.T) {
	for _, tc := range []struct {
		version, current string
		want             error // nil: admitted; errAny: some error
	}{
		{"1.1.0", "1.0.0", nil},
		{"2.0.0", "1.9.9", nil},
		{"1.0.0", "1.0.0", ErrNotNewer},
		{"1.0.0", "1.1.0", ErrNotNewer},
		{"1.0.0-rc.1", "1.0.0", ErrNotNewer},
		{"1.0.0+b2", "1.0.0+b1", ErrNotNewer},
		{"latest", "1.0.0", errAny},
	} {
		check(t, "CheckNewer("+tc.version+", "+tc.current+")", CheckNewer(tc.version, tc.current), tc.want)
	}
}

func TestCheckNotBelow(t *testing.T) {
	for _, tc := range []struct {
		version, highest string
		want             error
	}{
		{"1.0.0", "", nil},
		{"1.0.0", "1.0.0", nil}, // the highest itself, after a rollback from it
		{"1.2.0", "1.1.0", nil},
		{"1.0.0", "1.1.0", ErrNotNewer},
		{"1.1.0-rc.1", "1.1.0", ErrNotNewer},
		{"1.0.0", "damaged", errAny},
		{"nope", "1.0.0", errAny},
	} {
		check(t, "CheckNotBelow("+tc.version+", "+tc.highest+")", CheckNotBelow(tc.version, tc.highest), tc.want)
	}
}

func TestRaise(t *testing.T) {
	for _, tc := range []struct {
		highest, version, want string
		ok                     bool
	}{
		{"", "1.0.0", "1.0.0", true},
		{"1.0.0", "1.1.0", "1.1.0", true},
		{"1.1.0", "1.1.0", "1.1.0", true},
		{"1.1.0", "1.0.0", "1.1.0", false}, // a rollback does not lower it
		{"damaged", "1.0.0", "damaged", false},
	} {
		got, ok := Raise(tc.highest, tc.version)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Raise(%q, %q) = %q, %v; want %q, %v", tc.highest, tc.version, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSameVersion(t *testing.T) {
	b := Bundle{Name: "app", Version: "1.0.0", Digest: "sha256:aa"}
	for _, tc := range []struct {
		name   string
		held   Held
		update bool
		want   Same
		err    error
	}{
		{"install of the current bundle", Held{Digest: "sha256:aa", Current: true}, false, NoOp, nil},
		{"update to the current bundle", Held{Digest: "sha256:aa", Current: true}, true, Proceed, ErrReplay},
		{"kept release, same bundle", Held{Digest: "sha256:aa"}, false, Proceed, nil},
		{"kept release, same bundle, update", Held{Digest: "sha256:aa"}, true, Proceed, nil},
		{"another bundle, current", Held{Digest: "sha256:bb", Current: true}, false, Proceed, ErrConflict},
		{"another bundle, kept, update", Held{Digest: "sha256:bb"}, true, Proceed, ErrConflict},
	} {
		got, err := SameVersion(b, tc.held, tc.update)
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		check(t, tc.name, err, tc.err)
	}
}

// errAny stands for an error of no particular class.
var errAny = errors.New("any error")

func check(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: %v, want no error", what, err)
	case errors.Is(want, errAny) && err == nil:
		t.Errorf("%s: no error, want one", what)
	case want != nil && !errors.Is(want, errAny) && !errors.Is(err, want):
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}
