package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"ferry/internal/oci"
)

// Kinds of Drift.
const (
	DriftMissing = "missing" // a listed blob is not in the store
	DriftChanged = "changed" // a listed blob's content no longer has its digest
	DriftExtra   = "extra"   // a file in blobs/sha256/ that no list names
)

// Drift is one difference between the store on disk and what it should
// hold.
type Drift struct {
	Digest string // empty for an extra file whose name is not a digest
	Path   string
	Kind   string // DriftMissing, DriftChanged or DriftExtra
	Detail string
}

// checkBufferSize is the read buffer of each hashing worker; memory stays
// bounded by it whatever the size of the blobs.
const checkBufferSize = 256 << 10

// Check re-hashes the blobs with the given digests and returns one Drift
// per blob that is missing or whose content changed, sorted by path. With
// extras, it also reports every file in blobs/sha256/ that is not among
// digests (temporary files being written, or left by a crash for GC, are
// not reported). Blobs are hashed in parallel, one worker per core, each
// streaming through a fixed buffer.
//
// An error other than a missing file (an unreadable blob, a failing disk)
// stops the check: its result would not be complete.
func (s *Store) Check(ctx context.Context, digests []string, extras bool) ([]Drift, error) {
	want := make(map[string]bool, len(digests))
	var todo []string
	for _, d := range digests {
		if _, err := parseDigest(d); err != nil {
			return nil, fmt.Errorf("content store check: %w", err)
		}
		if !want[d] {
			want[d] = true
			todo = append(todo, d)
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan string)
	var (
		mu     sync.Mutex
		drifts []Drift
		wg     sync.WaitGroup
	)
	for range min(runtime.GOMAXPROCS(0), max(len(todo), 1)) {
		wg.Go(func() {
			buf := make([]byte, checkBufferSize)
			for d := range jobs {
				drift, err := s.checkBlob(ctx, d, buf)
				if err != nil {
					cancel(err)
					continue
				}
				if drift != nil {
					mu.Lock()
					drifts = append(drifts, *drift)
					mu.Unlock()
				}
			}
		})
	}
send:
	for _, d := range todo {
		select {
		case jobs <- d:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("content store check: %w", err)
	}

	if extras {
		found, err := s.extras(want)
		if err != nil {
			return nil, fmt.Errorf("content store check: %w", err)
		}
		drifts = append(drifts, found...)
	}
	slices.SortFunc(drifts, func(a, b Drift) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Kind, b.Kind))
	})
	return drifts, nil
}

// checkBlob hashes one blob; a nil Drift means it is intact.
func (s *Store) checkBlob(ctx context.Context, digest string, buf []byte) (*Drift, error) {
	p, err := s.Path(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &Drift{Digest: digest, Path: p, Kind: DriftMissing, Detail: "the blob is not in the store"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", digest, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("blob %s: %w", digest, err)
	} else if !fi.Mode().IsRegular() {
		return &Drift{Digest: digest, Path: p, Kind: DriftChanged, Detail: "not a regular file (" + fi.Mode().Type().String() + ")"}, nil
	}
	v := oci.NewVerifyingReader(oci.ContextReader(ctx, f), oci.Digest(digest))
	n, err := io.CopyBuffer(io.Discard, v, buf)
	if errors.Is(err, oci.ErrDigestMismatch) {
		return &Drift{Digest: digest, Path: p, Kind: DriftChanged,
			Detail: fmt.Sprintf("the content (%d bytes) hashes to %s", n, v.Digest())}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", digest, err)
	}
	return nil, nil
}

// extras lists the files in blobs/sha256/ that are not in want.
func (s *Store) extras(want map[string]bool) ([]Drift, error) {
	entries, err := os.ReadDir(s.blobDir())
	if err != nil {
		return nil, err
	}
	var drifts []Drift
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(s.blobDir(), name)
		switch {
		case isTempName(name):
		case !oci.ValidHex(name):
			drifts = append(drifts, Drift{Path: p, Kind: DriftExtra, Detail: "not a blob: the name is not a sha256 digest"})
		case !want[oci.FromHex(name).String()]:
			drifts = append(drifts, Drift{Digest: oci.FromHex(name).String(), Path: p, Kind: DriftExtra,
				Detail: fmt.Sprintf("not among the digests checked (%d bytes)", fileSize(e))})
		}
	}
	return drifts, nil
}
