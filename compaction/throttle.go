package compaction

import (
	"context"
	"time"
)

// throttleStep bounds each sleep, so that a cancelled context is noticed
// quickly even under a very low rate.
const throttleStep = 50 * time.Millisecond

// clock is the time a throttle reads and sleeps on; tests use a fake one.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

var realClock = clock{now: time.Now, sleep: sleepCtx}

// sleepCtx sleeps for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// throttle keeps the bytes read at or under a rate, measured from the
// first byte: a pass that was slow for a while (a cold disk) may then catch
// up at full speed, but the average never exceeds the rate by more than
// the bytes read between two calls.
type throttle struct {
	rate  int64 // bytes per second; 0: no limit
	clk   clock
	start time.Time
	bytes int64
}

func newThrottle(rate int64, clk clock) *throttle {
	return &throttle{rate: rate, clk: clk, start: clk.now()}
}

// account adds n bytes read and sleeps, in steps, until the rate allows
// them. It returns ctx's error once ctx is done, limit or not.
func (t *throttle) account(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.bytes += n
	if t.rate <= 0 {
		return nil
	}
	// In floating point: bytes * 1e9 overflows an int64 past 9 GB.
	due := t.start.Add(time.Duration(float64(t.bytes) / float64(t.rate) * float64(time.Second)))
	for {
		wait := due.Sub(t.clk.now())
		if wait <= 0 {
			return nil
		}
		if err := t.clk.sleep(ctx, min(wait, throttleStep)); err != nil {
			return err
		}
	}
}
