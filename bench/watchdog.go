package bench

import (
	"fmt"
	"sync/atomic"
	"time"
)

// DefaultStall is how long a read workload may go without progress before
// the harness gives up on it.
const DefaultStall = 30 * time.Second

// watch runs fn in its own goroutine. fn reports progress by storing
// growing values into the counter it is given. If the counter does not
// move for stall, watch returns an ErrStalled error without waiting for fn
// (whose goroutine is then leaked: nothing can stop it from outside).
func watch(stall time.Duration, what string, fn func(progress *atomic.Int64) error) error {
	var progress atomic.Int64
	done := make(chan error, 1)
	go func() { done <- fn(&progress) }()
	if stall <= 0 {
		return <-done
	}
	tick := time.NewTicker(stall / 10)
	defer tick.Stop()
	last, since := progress.Load(), time.Now()
	for {
		select {
		case err := <-done:
			return err
		case now := <-tick.C:
			if p := progress.Load(); p != last {
				last, since = p, now
			} else if now.Sub(since) >= stall {
				return fmt.Errorf("%w: %s made no progress for %v (progress counter at %d); its goroutine is left running",
					ErrStalled, what, stall.Round(time.Second), p)
			}
		}
	}
}
