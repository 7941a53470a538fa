package migrate

import (
	"context"
	"fmt"
	"time"
)

// lockLocal serialises the callers of d that migrate the same database,
// waiting at most wait. It returns the function that releases the lock.
func (d *Databases) lockLocal(ctx context.Context, name string, wait time.Duration) (func(), error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		d.mu.Lock()
		if d.busy == nil {
			d.busy = map[string]chan struct{}{}
		}
		held, ok := d.busy[name]
		if !ok {
			done := make(chan struct{})
			d.busy[name] = done
			d.mu.Unlock()
			return func() {
				d.mu.Lock()
				delete(d.busy, name)
				d.mu.Unlock()
				close(done)
			}, nil
		}
		d.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: database %s: %w", ErrLocked, name, ctx.Err())
		case <-timer.C:
			return nil, fmt.Errorf("%w: database %s: another migration of it in this process did not finish within %s", ErrLocked, name, wait)
		}
	}
}
