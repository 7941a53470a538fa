package installer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/installer/state"
	"ferry/license"
	"ferry/verify"
)

// licenseFixture is a vendor with a release key and a licence key, and
// bundles of product "licensed" whose ferry.yaml carries the licence key.
type licenseFixture struct {
	dir        string
	release    *ecdsa.PrivateKey
	releasePub []byte
	vendor     verify.Signer
	vendorPub  []byte
	other      verify.Signer
}

func newLicenseFixture(t *testing.T) *licenseFixture {
	t.Helper()
	f := &licenseFixture{dir: t.TempDir(), release: newKey(t)}
	f.releasePub = pubPEM(t, f.release)
	for i, s := range []*verify.Signer{&f.vendor, &f.other} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(t, err)
		*s, err = verify.NewSigner(k)
		must(t, err)
		if i == 0 {
			f.vendorPub = pubPEM(t, k)
		}
	}
	return f
}

// bundle builds version with the licence section given (required or not)
// and an optional expiry of the bundle itself.
func (f *licenseFixture) bundle(t *testing.T, version string, required bool, expires string) string {
	t.Helper()
	dir := filepath.Join(f.dir, "p-"+version)
	must(t, os.MkdirAll(filepath.Join(dir, "keys"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "keys", "license.pub"), f.vendorPub, 0o644))
	for _, n := range []string{"core.conf", "reports.conf", "extras.conf"} {
		must(t, os.WriteFile(filepath.Join(dir, n), []byte(n+" "+version+"\n"), 0o644))
	}
	meta := "{name: licensed, version: " + version + "}"
	if expires != "" {
		meta = "{name: licensed, version: " + version + ", expires: " + expires + "}"
	}
	req := "false"
	if required {
		req = "true"
	}
	spec := "apiVersion: ferry/v1\nkind: Bundle\nmetadata: " + meta + "\n" +
		"license: {required: " + req + ", keys: [keys/license.pub]}\n" +
		"components:\n" +
		"  - name: core\n    files: [{src: core.conf, dest: core.conf}]\n" +
		"  - name: reports\n    optional: true\n    files: [{src: reports.conf, dest: reports.conf}]\n" +
		"  - name: extras\n    optional: true\n    files: [{src: extras.conf, dest: extras.conf}]\n"
	must(t, os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644))
	out := filepath.Join(f.dir, "licensed-"+version+".ferry")
	buildSpec(t, filepath.Join(dir, "ferry.yaml"), out, "", f.release)
	return out
}

func (f *licenseFixture) issue(t *testing.T, l license.License, signer verify.Signer) []byte {
	t.Helper()
	if l.Customer == "" {
		l.Customer = "ACME"
	}
	if l.Expires.IsZero() {
		l.Expires = time.Now().Add(365 * 24 * time.Hour)
	}
	data, err := license.Issue(l, signer)
	must(t, err)
	return data
}

func (f *licenseFixture) install(root, path string, lic []byte, sel Selection) (*Result, error) {
	return Install(context.Background(), path, Options{Root: root, Keys: [][]byte{f.releasePub}, License: lic, Selection: sel,
		Fingerprints: []string{"fp1:00112233445566778899aabbccddeeff"}})
}

// TestLicenseEnforcement: install refuses a licence that is missing when
// required, signed by another key, tampered with, outside its dates,
// bound to another host or not covering the version; it skips optional
// components the licence does not entitle and refuses required ones.
// Every refusal leaves nothing installed.
func TestLicenseEnforcement(t *testing.T) {
	f := newLicenseFixture(t)
	v1 := f.bundle(t, "1.0.0", true, "")
	good := f.issue(t, license.License{Product: "licensed", Versions: ">=1.0.0 <2.0.0"}, f.vendor)
	now := time.Now()
	tampered := []byte(strings.Replace(string(good), `"payload":"`, `"payload":"A`, 1))

	refusals := []struct {
		name string
		lic  []byte
		sel  Selection
		want error
	}{
		{"missing", nil, Selection{}, ErrLicenseRequired},
		{"another key", f.issue(t, license.License{}, f.other), Selection{}, license.ErrUntrusted},
		{"tampered", tampered, Selection{}, license.ErrMalformed},
		{"not yet valid", f.issue(t, license.License{NotBefore: now.Add(48 * time.Hour), Expires: now.Add(96 * time.Hour)}, f.vendor), Selection{}, license.ErrNotYetValid},
		{"expired", f.issue(t, license.License{Issued: now.Add(-90 * 24 * time.Hour), Expires: now.Add(-30 * 24 * time.Hour), Grace: 24 * time.Hour}, f.vendor), Selection{}, license.ErrExpired},
		{"another host", f.issue(t, license.License{Bind: "fp1:ffeeddccbbaa99887766554433221100"}, f.vendor), Selection{}, license.ErrWrongHost},
		{"version not covered", f.issue(t, license.License{Versions: ">=2.0.0"}, f.vendor), Selection{}, license.ErrVersionNotCovered},
		{"another product", f.issue(t, license.License{Product: "other"}, f.vendor), Selection{}, license.ErrWrongProduct},
		{"required component not entitled", f.issue(t, license.License{Components: []string{"reports"}}, f.vendor), Selection{}, ErrNotEntitled},
		{"optional component asked for", f.issue(t, license.License{Components: []string{"core"}}, f.vendor), Selection{Components: []string{"core", "reports"}}, ErrNotEntitled},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			_, err := f.install(root, v1, tc.lic, tc.sel)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(root, "current")); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a refused install left a current release")
			}
			db, err := state.OpenReadOnly(root)
			must(t, err)
			defer db.Close()
			if v, _ := db.Mark(licenseMark); v != nil {
				t.Fatal("a refused licence was stored")
			}
		})
	}

	t.Run("entitled components only", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "root")
		lic := f.issue(t, license.License{Components: []string{"core", "extras"}, Versions: ">=1.0.0"}, f.vendor)
		res, err := f.install(root, v1, lic, Selection{})
		must(t, err)
		if !slices.Equal(res.License.Skipped, []string{"reports"}) {
			t.Fatalf("skipped %v", res.License.Skipped)
		}
		if _, err := os.Stat(filepath.Join(root, "current", "reports.conf")); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a component the licence does not entitle was installed")
		}
		if _, err := os.Stat(filepath.Join(root, "current", "extras.conf")); err != nil {
			t.Fatal(err)
		}
		// The licence is installed: the next update needs no --license.
		v2 := f.bundle(t, "1.1.0", true, "")
		if _, err := f.install(root, v2, nil, Selection{}); err != nil {
			t.Fatal(err)
		}
		db, err := state.OpenReadOnly(root)
		must(t, err)
		defer db.Close()
		if !auditHas(t, db, "license.installed") || !auditHas(t, db, "license.checked") {
			t.Fatal("the licence decisions are not in the audit log")
		}
	})
}

// TestLicenseGraceAndClock: inside the grace period an install goes ahead
// with a warning recorded in the audit log; a clock set back does not
// bring an expired licence back, and is itself recorded.
func TestLicenseGraceAndClock(t *testing.T) {
	f := newLicenseFixture(t)
	v1 := f.bundle(t, "1.0.0", true, "")
	now := time.Now()
	inGrace := f.issue(t, license.License{Issued: now.Add(-60 * 24 * time.Hour), Expires: now.Add(-24 * time.Hour), Grace: 30 * 24 * time.Hour}, f.vendor)
	root := filepath.Join(t.TempDir(), "root")
	res, err := f.install(root, v1, inGrace, Selection{})
	must(t, err)
	if res.License.Status.State != license.StateGrace {
		t.Fatalf("state %s", res.License.Status.State)
	}
	db, err := state.OpenReadOnly(root)
	must(t, err)
	if !auditHas(t, db, "license.grace") {
		t.Fatal("the grace period is not in the audit log")
	}
	db.Close()

	// The host has seen a time 40 days ahead (its clock was right then and
	// has been set back since): the licence is judged expired at that time.
	root2 := filepath.Join(t.TempDir(), "root")
	valid := f.issue(t, license.License{Expires: now.Add(10 * 24 * time.Hour)}, f.vendor)
	_, err = f.install(root2, v1, valid, Selection{})
	must(t, err)
	db, err = state.Open(root2, false)
	must(t, err)
	must(t, db.SetMark(clockMark, []byte(now.Add(40*24*time.Hour).UTC().Format(time.RFC3339Nano))))
	db.Close()
	v2 := f.bundle(t, "1.1.0", true, "")
	if _, err := f.install(root2, v2, nil, Selection{}); !errors.Is(err, license.ErrExpired) {
		t.Fatalf("update after the clock was set back: %v, want %v", err, license.ErrExpired)
	}
	info, err := ShowLicense(root2, []string{"fp1:00112233445566778899aabbccddeeff"})
	must(t, err)
	if info.UpdatesAllowed || !strings.Contains(info.Problem, "expired") || !info.Clock.Behind {
		t.Fatalf("license show: %+v", info)
	}
	db, err = state.OpenReadOnly(root2)
	must(t, err)
	defer db.Close()
	if !auditHas(t, db, "clock.behind") {
		t.Fatal("the clock set back is not in the audit log")
	}
	if cur, _ := db.Current(); cur != "1.0.0" {
		t.Fatalf("current %s: the refused update changed the host", cur)
	}
}

// TestClockMarkNotATime: a high-water mark replaced behind ferry's back by
// something that is not a time does not bring time back (the newest audit
// entry still bounds the clock); the next install audits it and writes the
// mark anew.
func TestClockMarkNotATime(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	b1, b2 := buildBundle(t, dir, "1.0.0", key), buildBundle(t, dir, "1.1.0", key)
	root := filepath.Join(dir, "root")
	_, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}})
	must(t, err)
	db, err := state.Open(root, false)
	must(t, err)
	must(t, db.SetMark(clockMark, []byte("yesterday")))
	last, err := db.LastAuditTime()
	must(t, err)
	c, err := ReadClock(db, last.Add(-time.Hour))
	must(t, err)
	db.Close()
	if c.BadMark != "yesterday" || !c.HighWater.Equal(last.UTC()) || !c.Behind || !c.Now.Equal(last.UTC()) {
		t.Fatalf("clock with a mark that is not a time: %+v (newest audit entry %s)", c, last)
	}

	_, err = Install(context.Background(), b2.path, Options{Root: root})
	must(t, err)
	db, err = state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	if !auditHas(t, db, "clock.mark-invalid") {
		t.Fatal("the mark that is not a time is not in the audit log")
	}
	c, err = ReadClock(db, time.Now())
	must(t, err)
	if c.BadMark != "" || c.HighWater.Before(last) {
		t.Fatalf("after the next install: %+v", c)
	}
}

// TestLicenseRenewal: a newer licence replaces the installed one and the
// history keeps both; an older one cannot come back.
func TestLicenseRenewal(t *testing.T) {
	f := newLicenseFixture(t)
	v1 := f.bundle(t, "1.0.0", true, "")
	now := time.Now()
	first := f.issue(t, license.License{Issued: now.Add(-48 * time.Hour)}, f.vendor)
	renewal := f.issue(t, license.License{Issued: now.Add(-24 * time.Hour), Expires: now.Add(730 * 24 * time.Hour)}, f.vendor)
	root := filepath.Join(t.TempDir(), "root")
	if _, err := f.install(root, v1, first, Selection{}); err != nil {
		t.Fatal(err)
	}
	fps := []string{"fp1:00112233445566778899aabbccddeeff"}
	if _, err := InstallLicense(root, renewal, fps, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := InstallLicense(root, first, fps, nil); !errors.Is(err, license.ErrNotNewer) {
		t.Fatalf("older licence: %v, want %v", err, license.ErrNotNewer)
	}
	if _, err := InstallLicense(root, f.issue(t, license.License{}, f.other), fps, nil); !errors.Is(err, license.ErrUntrusted) {
		t.Fatalf("licence by another key: %v", err)
	}
	info, err := ShowLicense(root, fps)
	must(t, err)
	if len(info.History) != 2 || info.License == nil || !info.License.Expires.After(now.Add(700*24*time.Hour)) || !info.UpdatesAllowed {
		t.Fatalf("after renewal: %+v", info)
	}
}

// TestBundleExpiry: a bundle past its metadata.expires is refused.
func TestBundleExpiry(t *testing.T) {
	f := newLicenseFixture(t)
	old := f.bundle(t, "1.0.0", false, "2020-01-01T00:00:00Z")
	_, err := f.install(filepath.Join(t.TempDir(), "root"), old, nil, Selection{})
	if !errors.Is(err, ErrBundleExpired) {
		t.Fatalf("got %v, want %v", err, ErrBundleExpired)
	}
}

func auditHas(t *testing.T, db *state.DB, event string) bool {
	t.Helper()
	log, err := db.AuditLog()
	must(t, err)
	for _, e := range log {
		if e.Event == event {
			return true
		}
	}
	return false
}
