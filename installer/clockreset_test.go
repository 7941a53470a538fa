package installer

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"ferry/installer/state"
	"ferry/license"
	"ferry/verify"
)

const thisHost = "fp1:00112233445566778899aabbccddeeff"

// aheadRoot installs a licensed release whose licence expires at expires,
// then makes the host's clock have run ahead: it has seen a time two years
// away, so the licence is judged expired and the host is locked out.
func aheadRoot(t *testing.T, f *licenseFixture, expires time.Time) (root, update string, highWater time.Time) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "root")
	_, err := f.install(root, f.bundle(t, "1.0.0", true, ""), f.issue(t, license.License{Expires: expires}, f.vendor), Selection{})
	must(t, err)
	db, err := state.Open(root, false)
	must(t, err)
	highWater = time.Now().Add(2 * 365 * 24 * time.Hour).UTC()
	must(t, db.SetMark(clockMark, []byte(highWater.Format(time.RFC3339Nano))))
	db.Close()
	update = f.bundle(t, "1.1.0", true, "")
	if _, err := f.install(root, update, nil, Selection{}); !errors.Is(err, license.ErrExpired) {
		t.Fatalf("with the clock ahead: %v, want the licence expired", err)
	}
	return root, update, highWater
}

func statement(t *testing.T, r license.ClockReset, s verify.Signer) []byte {
	t.Helper()
	data, err := license.IssueClockReset(r, s)
	must(t, err)
	return data
}

// TestClockResetNeedsVendorStatement: a host whose clock once ran ahead is
// not locked out for good, but with a licence installed the operator
// alone cannot lower the latest time it has seen: only a statement signed
// by a licence key of the release, for this host and this moment, does,
// and only once.
func TestClockResetNeedsVendorStatement(t *testing.T) {
	f := newLicenseFixture(t)
	root, update, hw := aheadRoot(t, f, time.Now().Add(30*24*time.Hour))
	from, now := hw.Truncate(time.Second), time.Now().Add(-time.Minute)
	good := license.ClockReset{Host: thisHost, From: from, To: now}
	reset := func(stmt []byte) error {
		_, err := ResetClock(root, ClockResetOptions{Reason: "RTC battery replaced", Statement: stmt, Fingerprints: []string{thisHost}})
		return err
	}
	for _, tc := range []struct {
		name string
		stmt []byte
		want error
	}{
		{"no statement", nil, ErrClockReset},
		{"signed by another key", statement(t, good, f.other), license.ErrUntrusted},
		{"for another host", statement(t, license.ClockReset{Host: "fp1:ffeeddccbbaa99887766554433221100", From: from, To: now}, f.vendor), license.ErrWrongHost},
		{"for another moment", statement(t, license.ClockReset{Host: thisHost, From: from.Add(-time.Hour), To: now}, f.vendor), ErrClockReset},
	} {
		if err := reset(tc.stmt); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if _, err := f.install(root, update, nil, Selection{}); !errors.Is(err, license.ErrExpired) {
			t.Fatalf("after a refused reset (%s): %v, want the licence still expired", tc.name, err)
		}
	}
	stmt := statement(t, good, f.vendor)
	must(t, reset(stmt))
	if _, err := f.install(root, update, nil, Selection{}); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
	// Used once: the host has moved on from the mark it names.
	if err := reset(stmt); !errors.Is(err, ErrClockReset) {
		t.Fatalf("the statement again: %v, want %v", err, ErrClockReset)
	}
	db, err := state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	for _, ev := range []string{"clock.reset", "clock.reset-refused"} {
		if !auditHas(t, db, ev) {
			t.Errorf("no %s in the audit log", ev)
		}
	}
}

// TestClockResetRevivesNoLicense: a reset goes no further back than the
// time the vendor signed (and never below the system clock), so a licence
// that had expired by then stays expired.
func TestClockResetRevivesNoLicense(t *testing.T) {
	f := newLicenseFixture(t)
	expires := time.Now().Add(10 * 24 * time.Hour)
	root, update, hw := aheadRoot(t, f, expires)
	// The vendor's true time is past the licence's end.
	to := expires.Add(24 * time.Hour)
	_, err := ResetClock(root, ClockResetOptions{Reason: "clock ran ahead", Fingerprints: []string{thisHost},
		Statement: statement(t, license.ClockReset{Host: thisHost, From: hw.Truncate(time.Second), To: to}, f.vendor)})
	must(t, err)
	if _, err := f.install(root, update, nil, Selection{}); !errors.Is(err, license.ErrExpired) {
		t.Fatalf("after the reset: %v, want the licence still expired", err)
	}
	db, err := state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	c, err := ReadClock(db, time.Now())
	must(t, err)
	if c.Now.Before(to.Truncate(time.Second)) {
		t.Fatalf("judged at %s, before the time the vendor signed, %s", c.Now, to)
	}
}

// TestClockResetWithoutLicense: with no licence installed the operator
// lowers the mark to the system clock, audited with the reason.
func TestClockResetWithoutLicense(t *testing.T) {
	dir := t.TempDir()
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	root := filepath.Join(dir, "root")
	_, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}})
	must(t, err)
	if _, err := ResetClock(root, ClockResetOptions{Reason: "x"}); !errors.Is(err, ErrClockReset) {
		t.Fatalf("nothing to reset: %v, want %v", err, ErrClockReset)
	}
	db, err := state.Open(root, false)
	must(t, err)
	must(t, db.SetMark(clockMark, []byte(time.Now().Add(time.Hour*24*400).UTC().Format(time.RFC3339Nano))))
	db.Close()
	if _, err := ResetClock(root, ClockResetOptions{}); !errors.Is(err, ErrClockReset) {
		t.Fatalf("no reason: %v, want %v", err, ErrClockReset)
	}
	res, err := ResetClock(root, ClockResetOptions{Reason: "NTP served a wrong year"})
	must(t, err)
	db, err = state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	c, err := ReadClock(db, time.Now())
	must(t, err)
	if c.Behind || c.HighWater.After(time.Now()) || !res.To.Before(res.From) {
		t.Fatalf("after the reset: %+v (%+v)", c, res)
	}
	if err := VerifyDerived(db); err != nil {
		t.Fatal(err)
	}
}
