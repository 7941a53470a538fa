package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"ferry/internal/oci"
)

// manifestBlob stores a small manifest-like blob and returns a Ref to it.
func manifestBlob(t *testing.T, s *Store, name string) Ref {
	t.Helper()
	b := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{},"layers":[],"annotations":{"n":%q}}`, MediaTypeOCIManifest, name)
	return Ref{Name: name, Digest: putBytes(t, s, b), MediaType: MediaTypeOCIManifest, Size: int64(len(b))}
}

func TestSetRefsSortsAndRoundTrips(t *testing.T) {
	s := newStore(t)
	api := manifestBlob(t, s, "wf/api:1.4.0")
	api.Annotations = map[string]string{"org.opencontainers.image.version": "1.4.0"}
	worker := manifestBlob(t, s, "wf/worker:1.4.0")
	db := manifestBlob(t, s, "db/postgres:16")
	if err := s.SetRefs([]Ref{worker, api, db}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Refs()
	if err != nil {
		t.Fatal(err)
	}
	if want := []Ref{db, api, worker}; !reflect.DeepEqual(got, want) {
		t.Errorf("Refs() = %+v\nwant %+v", got, want)
	}

	var idx struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != MediaTypeOCIIndex || len(idx.Manifests) != 3 {
		t.Fatalf("index.json = %s", b)
	}
	for i, name := range []string{"db/postgres:16", "wf/api:1.4.0", "wf/worker:1.4.0"} {
		if got := idx.Manifests[i].Annotations[oci.RefNameAnnotation]; got != name {
			t.Errorf("manifests[%d] ref.name = %q, want %q", i, got, name)
		}
	}
	assertNoTemps(t, s)

	if err := s.SetRefs(nil); err != nil {
		t.Fatal(err)
	}
	if refs, err := s.Refs(); err != nil || len(refs) != 0 {
		t.Errorf("after SetRefs(nil): %v, %v", refs, err)
	}
}

func TestSetRefsRefusesInvalid(t *testing.T) {
	s := newStore(t)
	good := manifestBlob(t, s, "wf/api:1.4.0")
	if err := s.SetRefs([]Ref{good}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(s.Dir(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Ref)) Ref { r := good; f(&r); return r }
	tests := []struct {
		name string
		refs []Ref
		want error
	}{
		{"duplicate name", []Ref{good, with(func(r *Ref) {})}, ErrInvalidRef},
		{"empty name", []Ref{with(func(r *Ref) { r.Name = "" })}, ErrInvalidRef},
		{"name with space", []Ref{with(func(r *Ref) { r.Name = "wf/api 1" })}, ErrInvalidRef},
		{"name with empty component", []Ref{with(func(r *Ref) { r.Name = "wf//api" })}, ErrInvalidRef},
		{"conflicting annotation", []Ref{with(func(r *Ref) { r.Annotations = map[string]string{oci.RefNameAnnotation: "other:1"} })}, ErrInvalidRef},
		{"layer media type", []Ref{with(func(r *Ref) { r.MediaType = "application/vnd.oci.image.layer.v1.tar+gzip" })}, ErrInvalidRef},
		{"bad digest", []Ref{with(func(r *Ref) { r.Digest = "sha256:../index.json" })}, ErrInvalidDigest},
		{"missing blob", []Ref{with(func(r *Ref) { r.Digest = digestOf([]byte("never stored")) })}, ErrNotFound},
		{"wrong size", []Ref{with(func(r *Ref) { r.Size++ })}, ErrSizeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetRefs(tt.refs)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			after, _ := os.ReadFile(filepath.Join(s.Dir(), "index.json"))
			if !bytes.Equal(before, after) {
				t.Errorf("a refused SetRefs changed index.json:\n%s", after)
			}
			assertNoTemps(t, s)
		})
	}
}

func TestSetRefsAtomic(t *testing.T) {
	s := newStore(t)
	a := manifestBlob(t, s, "wf/a:1")
	b := manifestBlob(t, s, "wf/b:1")
	sets := [][]Ref{{a}, {a, b}, nil}

	// Readers of the layout, as the registry is, always find a whole
	// index.json, never a missing or partial one.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Refs(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 60 {
		if err := s.SetRefs(sets[i%len(sets)]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	assertNoTemps(t, s)
}

func TestValidRefName(t *testing.T) {
	for name, want := range map[string]bool{
		"wf/api:1.4.0":            true,
		"api":                     true,
		"a/b/c:1.0.0-rc.1+build5": true,
		"wf/api@sha256:abc":       true,
		"":                        false,
		"/wf/api:1":               false,
		"wf/api:1/":               false,
		"wf/-api:1":               false,
		"wf/api:":                 false,
		"wf/api :1":               false,
		"wf/api:1\n":              false,
		"wf/äpi:1":                false,
	} {
		if got := validRefName(name); got != want {
			t.Errorf("validRefName(%q) = %v, want %v", name, got, want)
		}
	}
}
