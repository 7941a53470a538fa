package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCheck(t *testing.T) {
	s := newStore(t)
	intact := putBytes(t, s, []byte("intact"))
	changed := putBytes(t, s, []byte("changed"))
	missing := putBytes(t, s, []byte("missing"))
	extra := putBytes(t, s, []byte("extra"))
	pChanged, _ := s.Path(changed)
	if err := os.WriteFile(pChanged, []byte("CHANGED"), 0o644); err != nil {
		t.Fatal(err)
	}
	pMissing, _ := s.Path(missing)
	if err := os.Remove(pMissing); err != nil {
		t.Fatal(err)
	}
	pExtra, _ := s.Path(extra)
	junk := filepath.Join(s.blobDir(), "junk")
	if err := os.WriteFile(junk, []byte("?"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A leftover of a crash is GC's to remove, not drift.
	if err := os.WriteFile(filepath.Join(s.blobDir(), tempPrefix+"CRASHED"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	listed := []string{intact, changed, missing, intact}
	drifts, err := s.Check(t.Context(), listed, false)
	if err != nil {
		t.Fatal(err)
	}
	want := sortedDrifts(
		Drift{Digest: changed, Path: pChanged, Kind: DriftChanged},
		Drift{Digest: missing, Path: pMissing, Kind: DriftMissing},
	)
	if got := withoutDetail(drifts); !reflect.DeepEqual(got, want) {
		t.Errorf("Check = %+v\nwant %+v", drifts, want)
	}
	for _, d := range drifts {
		if d.Detail == "" {
			t.Errorf("drift %+v has no detail", d)
		}
	}

	drifts, err = s.Check(t.Context(), listed, true)
	if err != nil {
		t.Fatal(err)
	}
	want = sortedDrifts(append(want,
		Drift{Digest: extra, Path: pExtra, Kind: DriftExtra},
		Drift{Path: junk, Kind: DriftExtra})...)
	if got := withoutDetail(drifts); !reflect.DeepEqual(got, want) {
		t.Errorf("Check with extras = %+v\nwant %+v", drifts, want)
	}
}

func sortedDrifts(ds ...Drift) []Drift {
	// Check sorts by path; so must the expectation.
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			if ds[j].Path < ds[i].Path {
				ds[i], ds[j] = ds[j], ds[i]
			}
		}
	}
	return ds
}

func withoutDetail(ds []Drift) []Drift {
	out := make([]Drift, len(ds))
	for i, d := range ds {
		d.Detail = ""
		out[i] = d
	}
	return out
}

func TestCheckManyBlobsInParallel(t *testing.T) {
	s := newStore(t)
	var digests []string
	for i := range 200 {
		digests = append(digests, putBytes(t, s, fmt.Appendf(randomBytes(t, 1000+i), "%d", i)))
	}
	// Damage every tenth blob.
	for i := 0; i < len(digests); i += 10 {
		p, _ := s.Path(digests[i])
		if err := os.WriteFile(p, []byte("damaged"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	drifts, err := s.Check(t.Context(), digests, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(drifts) != 20 {
		t.Fatalf("found %d drifts, want 20: %+v", len(drifts), drifts)
	}
	for _, d := range drifts {
		if d.Kind != DriftChanged {
			t.Errorf("unexpected drift %+v", d)
		}
	}
}

func TestCheckRefusesInvalidDigest(t *testing.T) {
	s := newStore(t)
	if _, err := s.Check(t.Context(), []string{"sha256:../../etc/shadow"}, false); !errors.Is(err, ErrInvalidDigest) {
		t.Errorf("got %v, want ErrInvalidDigest", err)
	}
}

func TestCheckCancelled(t *testing.T) {
	s := newStore(t)
	d := putBytes(t, s, randomBytes(t, 1<<20))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Check(ctx, []string{d}, false); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
