package router

import (
	"context"
	"sync"
	"sync/atomic"
)

// lane counts the requests routed to one backend while it gets traffic.
// When a configuration takes the traffic away, the lane is retired; it
// becomes idle once its last request has finished. A backend that gets
// traffic again later starts a new lane.
//
// Requests enter a lane only under the router's read lock, from the
// current generation, and Set retires lanes under the write lock, so no
// request enters a retired lane: once idle, it stays idle.
type lane struct {
	target   *target
	inflight atomic.Int64
	retired  atomic.Bool
	idle     chan struct{}
	idleOnce sync.Once
}

func newLane(t *target) *lane {
	return &lane{target: t, idle: make(chan struct{})}
}

// enter counts a request; call only under the router's read lock.
func (l *lane) enter() { l.inflight.Add(1) }

// leave ends a request.
func (l *lane) leave() {
	// Either leave sees retired, or retire sees the count at zero: both
	// are sequentially consistent atomics, so the last one to act marks
	// the lane idle.
	if l.inflight.Add(-1) == 0 && l.retired.Load() {
		l.markIdle()
	}
}

// retire marks the lane as getting no more requests; call only under the
// router's write lock.
func (l *lane) retire() {
	l.retired.Store(true)
	if l.inflight.Load() == 0 {
		l.markIdle()
	}
}

func (l *lane) markIdle() {
	l.idleOnce.Do(func() {
		close(l.idle)
		// Pooled connections to a backend without traffic are of no
		// more use; a backend that gets traffic again dials anew.
		l.target.pool.closeIdle()
	})
}

func (l *lane) isIdle() bool {
	select {
	case <-l.idle:
		return true
	default:
		return false
	}
}

// waitIdle waits until every lane is idle or ctx is done.
func waitIdle(ctx context.Context, lanes []*lane) error {
	for _, l := range lanes {
		select {
		case <-l.idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
