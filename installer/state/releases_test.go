package state

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestReleases(t *testing.T) {
	root, db := newRoot(t)
	zone := time.FixedZone("UTC+5", 5*3600)
	at := time.Date(2026, 3, 1, 12, 0, 0, 123, zone)
	want := Release{
		Version:        "1.10.0",
		ManifestDigest: "sha256:0123",
		Manifest:       []byte(`{"name":"app","version":"1.10.0"}`),
		Signatures:     [][]byte{[]byte("sig-a"), []byte("sig-b")},
		Components:     []string{"database", "api"},
		Status:         StatusActive,
		Created:        at,
		Installed:      at.Add(time.Minute),
		Checks:         []CheckResult{{Name: "healthz", OK: true, Detail: "200", At: at.Add(2 * time.Minute)}},
	}
	if err := db.PutRelease(want); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.2.0", "1.9.0", "1.9.0-rc.1", "0.9.1"} {
		if err := db.PutRelease(Release{Version: v, Status: StatusInactive}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutRelease(Release{Version: "latest", Status: StatusActive}); !errors.Is(err, ErrInvalid) {
		t.Errorf("non-semver version: %v, want ErrInvalid", err)
	}
	if err := db.PutRelease(Release{Version: "2.0.0", Status: "done"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown status: %v, want ErrInvalid", err)
	}
	if err := db.SetCurrent("3.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetCurrent of a missing release: %v, want ErrNotFound", err)
	}
	if cur, err := db.Current(); err != nil || cur != "" {
		t.Errorf("Current before any = %q, %v", cur, err)
	}
	if err := db.SetCurrent("1.10.0"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)

	db, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Release("1.10.0")
	if err != nil {
		t.Fatal(err)
	}
	want.Created, want.Installed = want.Created.UTC(), want.Installed.UTC()
	want.Checks[0].At = want.Checks[0].At.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Release after reopen:\n got %+v\nwant %+v", got, want)
	}
	if got.Created.Location() != time.UTC {
		t.Errorf("Created is in %s, want UTC", got.Created.Location())
	}
	if _, err := db.Release("9.9.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing release: %v, want ErrNotFound", err)
	}

	all, err := db.Releases()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range all {
		order = append(order, r.Version)
		if r.Created.IsZero() {
			t.Errorf("release %s has no Created time", r.Version)
		}
	}
	if want := []string{"0.9.1", "1.2.0", "1.9.0-rc.1", "1.9.0", "1.10.0"}; !reflect.DeepEqual(order, want) {
		t.Errorf("Releases order %v, want %v", order, want)
	}

	if cur, err := db.Current(); err != nil || cur != "1.10.0" {
		t.Errorf("Current = %q, %v; want 1.10.0", cur, err)
	}
	if err := db.DeleteRelease("1.10.0"); !errors.Is(err, ErrCurrentRelease) {
		t.Errorf("deleting the current release: %v, want ErrCurrentRelease", err)
	}
	if err := db.DeleteRelease("1.2.0"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteRelease("1.2.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if err := db.SetCurrent(""); err != nil {
		t.Fatal(err)
	}
	if cur, _ := db.Current(); cur != "" {
		t.Errorf("Current after clearing = %q", cur)
	}

	// Replacing a release updates it in place.
	got.Status = StatusInactive
	if err := db.PutRelease(got); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.Release("1.10.0"); r.Status != StatusInactive || !r.Created.Equal(got.Created) {
		t.Errorf("after update: status %q created %s", r.Status, r.Created)
	}
	if err := db.VerifyAudit(); err != nil {
		t.Error(err)
	}
}

// TestReleasesOrderRevisions: the configuration revisions of a release
// (semver build metadata) order after it and by number, so that the
// newest is last whatever its digits.
func TestReleasesOrderRevisions(t *testing.T) {
	want := []string{"1.0.0", "1.0.0+config.2", "1.0.0+config.10", "1.1.0", "1.1.0+build.config.11"}
	for i := range want {
		for j := range want {
			got := compareVersions(want[i], want[j])
			if (i < j && got >= 0) || (i > j && got <= 0) || (i == j && got != 0) {
				t.Errorf("compareVersions(%s, %s) = %d", want[i], want[j], got)
			}
		}
	}
}
