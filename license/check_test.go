package license

import (
	"errors"
	"testing"
	"time"
)

func TestCheckTime(t *testing.T) {
	l := fullLicense() // valid 2026-02-01 to 2027-02-01, grace 30 days
	l.Bind = ""
	for _, tc := range []struct {
		name  string
		now   string
		state State
		err   error
		left  time.Duration // StartsIn, ExpiresIn or GraceLeft, by state
	}{
		{"long before notBefore", "2020-01-01T00:00:00Z", StateNotYetValid, ErrNotYetValid, date("2026-02-01T00:00:00Z").Sub(date("2020-01-01T00:00:00Z"))},
		{"a second before notBefore", "2026-01-31T23:59:59Z", StateNotYetValid, ErrNotYetValid, time.Second},
		{"at notBefore", "2026-02-01T00:00:00Z", StateValid, nil, 365 * 24 * time.Hour},
		{"valid", "2026-08-01T00:00:00Z", StateValid, nil, date("2027-02-01T00:00:00Z").Sub(date("2026-08-01T00:00:00Z"))},
		{"a second before expiry", "2027-01-31T23:59:59Z", StateValid, nil, time.Second},
		{"at expiry", "2027-02-01T00:00:00Z", StateGrace, nil, 30 * 24 * time.Hour},
		{"in grace", "2027-02-20T00:00:00Z", StateGrace, nil, 11 * 24 * time.Hour},
		{"last second of grace", "2027-03-02T23:59:59Z", StateGrace, nil, time.Second},
		{"grace over", "2027-03-03T00:00:00Z", StateExpired, ErrExpired, 0},
		{"long after", "2040-01-01T00:00:00Z", StateExpired, ErrExpired, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := date(tc.now)
			s, err := l.Check(CheckInput{Now: now})
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Check: %v, want %v", err, tc.err)
			}
			if s.State != tc.state || !s.At.Equal(now) {
				t.Errorf("state %s at %v, want %s at %v", s.State, s.At, tc.state, now)
			}
			var left time.Duration
			switch s.State {
			case StateNotYetValid:
				left = s.StartsIn
			case StateValid:
				left = s.ExpiresIn
			case StateGrace:
				left = s.GraceLeft
			}
			if left != tc.left {
				t.Errorf("time left %v, want %v (%+v)", left, tc.left, s)
			}
		})
	}
}

func TestCheckWithoutGrace(t *testing.T) {
	l := fullLicense()
	l.Bind, l.Grace = "", 0
	if s, err := l.Check(CheckInput{Now: l.Expires}); !errors.Is(err, ErrExpired) || s.State != StateExpired {
		t.Errorf("at expiry without grace: %s, %v; want expired", s.State, err)
	}
}

func TestCheckNeedsTime(t *testing.T) {
	l := fullLicense()
	if _, err := l.Check(CheckInput{}); err == nil {
		t.Error("Check without a time succeeded")
	}
}

func TestCheckProductVersionHost(t *testing.T) {
	base := fullLicense() // workflow-platform, >=1.0.0 <3.0.0, bound
	fp := base.Bind
	otherFP := "fp1:ffeeddccbbaa99887766554433221100"
	now := date("2026-06-01T00:00:00Z")
	edited := func(f func(*License)) License { l := fullLicense(); f(&l); return l }
	for _, tc := range []struct {
		name string
		l    License
		in   CheckInput
		want error
	}{
		{"all match", base, CheckInput{Product: "workflow-platform", Version: "1.4.0", Fingerprints: []string{fp}}, nil},
		{"second fingerprint matches", base, CheckInput{Product: "workflow-platform", Version: "2.9.9", Fingerprints: []string{otherFP, fp}}, nil},
		{"wrong product", base, CheckInput{Product: "other-product", Version: "1.4.0", Fingerprints: []string{fp}}, ErrWrongProduct},
		{"product not checked", base, CheckInput{Version: "1.4.0", Fingerprints: []string{fp}}, nil},
		{"licence for any product", edited(func(l *License) { l.Product = "" }), CheckInput{Product: "other-product", Fingerprints: []string{fp}}, nil},
		{"wrong host", base, CheckInput{Product: "workflow-platform", Version: "1.4.0", Fingerprints: []string{otherFP}}, ErrWrongHost},
		{"host without fingerprint", base, CheckInput{Product: "workflow-platform", Version: "1.4.0"}, ErrWrongHost},
		{"unbound on any host", edited(func(l *License) { l.Bind = "" }), CheckInput{Product: "workflow-platform", Version: "1.4.0"}, nil},
		{"version below range", base, CheckInput{Product: "workflow-platform", Version: "0.9.0", Fingerprints: []string{fp}}, ErrVersionNotCovered},
		{"version at upper bound", base, CheckInput{Product: "workflow-platform", Version: "3.0.0", Fingerprints: []string{fp}}, ErrVersionNotCovered},
		{"version at lower bound", base, CheckInput{Product: "workflow-platform", Version: "1.0.0", Fingerprints: []string{fp}}, nil},
		{"pre-release outside a plain range", base, CheckInput{Product: "workflow-platform", Version: "2.0.0-rc.1", Fingerprints: []string{fp}}, ErrVersionNotCovered},
		{"all versions", edited(func(l *License) { l.Versions = "" }), CheckInput{Product: "workflow-platform", Version: "9.0.0", Fingerprints: []string{fp}}, nil},
		{"caret range", edited(func(l *License) { l.Versions = "^2.1" }), CheckInput{Version: "2.7.3", Fingerprints: []string{fp}}, nil},
		{"caret range excludes next major", edited(func(l *License) { l.Versions = "^2.1" }), CheckInput{Version: "3.0.0", Fingerprints: []string{fp}}, ErrVersionNotCovered},
		{"product before host", base, CheckInput{Product: "other-product", Fingerprints: []string{otherFP}}, ErrWrongProduct},
		{"host before version", base, CheckInput{Version: "9.0.0", Fingerprints: []string{otherFP}}, ErrWrongHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Now = now
			s, err := tc.l.Check(tc.in)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Check: %v, want %v", err, tc.want)
			}
			if s.State != StateValid {
				t.Errorf("state %s, want the time status filled in whatever the error", s.State)
			}
		})
	}
	l := fullLicense()
	if _, err := l.Check(CheckInput{Now: now, Version: "v1.4", Fingerprints: []string{fp}}); err == nil || errors.Is(err, ErrVersionNotCovered) {
		t.Errorf("a version that is not strict semver: %v, want a plain error", err)
	}
}

func TestEntitled(t *testing.T) {
	l := fullLicense()
	for c, want := range map[string]bool{"api": true, "worker": true, "charts": false, "": false, "API": false} {
		if got := l.Entitled(c); got != want {
			t.Errorf("Entitled(%q) = %v, want %v", c, got, want)
		}
	}
	l.Components = nil
	if !l.Entitled("charts") {
		t.Error("a licence without components does not cover every component")
	}
	if !l.HasFeature("audit-export") || l.HasFeature("audit") {
		t.Error("HasFeature")
	}
}

func TestSupersedes(t *testing.T) {
	old := fullLicense()
	newer := fullLicense()
	newer.ID, newer.Issued = "ffff", old.Issued.Add(time.Second)
	sameTimeHigherID := fullLicense()
	sameTimeHigherID.ID = "ffff"
	sameTimeLowerID := fullLicense()
	sameTimeLowerID.ID = "0000"
	older := fullLicense()
	older.ID, older.Issued = "ffff", old.Issued.Add(-time.Hour)
	otherCustomer := newer
	otherCustomer.Customer, otherCustomer.Product = "ACME Holdings", ""

	for _, tc := range []struct {
		name    string
		l, old  *License
		want    bool
		wantErr error
	}{
		{"issued later", &newer, &old, true, nil},
		{"issued earlier", &older, &old, false, ErrNotNewer},
		{"same second, greater id", &sameTimeHigherID, &old, true, nil},
		{"same second, smaller id", &sameTimeLowerID, &old, false, ErrNotNewer},
		{"itself", &old, &old, false, ErrNotNewer},
		{"renamed customer", &otherCustomer, &old, true, nil},
		{"nothing installed", &old, nil, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.Supersedes(tc.old); got != tc.want {
				t.Errorf("Supersedes = %v, want %v", got, tc.want)
			}
			if tc.old != nil && tc.old != tc.l && tc.l.Supersedes(tc.old) && tc.old.Supersedes(tc.l) {
				t.Error("both supersede each other")
			}
			err := tc.l.CheckRenewal(tc.old)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("CheckRenewal: %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestEffectiveNow(t *testing.T) {
	hw := date("2026-06-01T12:00:00Z")
	tol := 10 * time.Minute
	for _, tc := range []struct {
		name      string
		system    time.Time
		highWater time.Time
		tolerance time.Duration
		now       time.Time
		clockBack bool
	}{
		{"clock ahead", hw.Add(time.Hour), hw, tol, hw.Add(time.Hour), false},
		{"clock equal", hw, hw, tol, hw, false},
		{"back within tolerance", hw.Add(-5 * time.Minute), hw, tol, hw, false},
		{"back exactly the tolerance", hw.Add(-tol), hw, tol, hw, false},
		{"back beyond tolerance", hw.Add(-tol - time.Second), hw, tol, hw, true},
		{"back a year", hw.AddDate(-1, 0, 0), hw, tol, hw, true},
		{"no high-water mark yet", hw, time.Time{}, tol, hw, false},
		{"zero tolerance", hw.Add(-time.Second), hw, 0, hw, true},
		{"negative tolerance", hw.Add(-time.Second), hw, -time.Hour, hw, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now, back := EffectiveNow(tc.system, tc.highWater, tc.tolerance)
			if !now.Equal(tc.now) || back != tc.clockBack {
				t.Errorf("EffectiveNow = %v, %v; want %v, %v", now, back, tc.now, tc.clockBack)
			}
		})
	}

	// Setting the clock back revives nothing: a licence in grace at the
	// high-water mark is still judged there.
	l := fullLicense()
	l.Bind = ""
	mark := l.Expires.Add(l.Grace).Add(time.Hour)
	now, back := EffectiveNow(l.NotBefore.Add(time.Hour), mark, tol)
	if _, err := l.Check(CheckInput{Now: now}); !errors.Is(err, ErrExpired) || !back {
		t.Errorf("with the clock set back: %v, clock back %v; want ErrExpired and clock back", err, back)
	}
}
