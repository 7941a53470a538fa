package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

var (
	// ErrInvalidConfig is returned by Set for a configuration it cannot
	// route by; routing is left as it was.
	ErrInvalidConfig = errors.New("invalid routing configuration")
	// ErrDrainTimeout means requests to a backend that no longer gets
	// traffic were still running when the drain timeout ran out. The new
	// routing is in effect; stopping the backend now cuts those requests
	// off.
	ErrDrainTimeout = errors.New("requests still in flight after the drain timeout")
	// ErrStillRouted is returned by Drain for a version the current
	// routing still sends requests to: it would never drain.
	ErrStillRouted = errors.New("version still receives requests")
)

// DrainError reports the requests still running on backends that no
// longer get traffic when a drain gave up. It wraps ErrDrainTimeout, or
// the context's error when the caller's context ended first.
type DrainError struct {
	Service string
	// InFlight counts the requests still running, by version.
	InFlight map[string]int64
	// Waited is how long the drain waited.
	Waited time.Duration
	Err    error
}

func (e *DrainError) Error() string {
	versions := make([]string, 0, len(e.InFlight))
	for v := range e.InFlight {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	var parts []string
	for _, v := range versions {
		parts = append(parts, fmt.Sprintf("%d to version %s", e.InFlight[v], v))
	}
	return fmt.Sprintf("service %s: after %v, requests still in flight (%s): %v; they end when the version is stopped, or wait longer with Drain",
		e.Service, e.Waited.Round(time.Millisecond), strings.Join(parts, ", "), e.Err)
}

func (e *DrainError) Unwrap() error { return e.Err }
