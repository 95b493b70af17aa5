package compaction

import (
	"context"
	"time"
)

// SetClock makes the throttle of o read now and sleep with sleep instead of
// the real clock.
func SetClock(o *Options, now func() time.Time, sleep func(context.Context, time.Duration) error) {
	o.clock = clock{now: now, sleep: sleep}
}

// SetProgressEvery makes passes report progress every n bytes read, until
// the returned function restores the default. Not for parallel tests.
func SetProgressEvery(n int64) (restore func()) {
	old := progressEvery
	progressEvery = n
	return func() { progressEvery = old }
}
