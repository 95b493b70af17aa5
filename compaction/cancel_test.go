package compaction_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/segment"
)

// progressCalls counts the Progress reports of a clean Rewrite of the
// log newLog(seed, sealed, fill) makes, run [from, to).
func progressCalls(t *testing.T, seed uint64, sealed, fill, from, to int) ([]compaction.Progress, compaction.Result) {
	lf := newLog(t, seed, sealed, fill)
	var got []compaction.Progress
	opts := &compaction.Options{Progress: func(p compaction.Progress) { got = append(got, p) }}
	res, err := compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, from, to), keepEven, opts)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.File.Close()
	return got, res
}

// TestRewriteCancel cancels the context from each Progress report in
// turn: up to the swap, Rewrite must stop with the context's error and
// leave the old files as they were, with no temp file; from the rename on
// it completes. Segments larger than a progress step are cancelled inside
// a segment too.
func TestRewriteCancel(t *testing.T) {
	const seed, sealed, from, to, fill = 20, 3, 0, 3, 9000
	defer compaction.SetProgressEvery(4000)()
	reports, _ := progressCalls(t, seed, sealed, fill, from, to)
	// Two passes over three segments of two progress steps and more,
	// swapping, done.
	if len(reports) < 2*3*3+2 {
		t.Fatalf("only %d progress reports", len(reports))
	}
	for k := 1; k <= len(reports); k++ {
		lf := newLog(t, seed, sealed, fill)
		e := lf.expect(t, from, to, keepEven)
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		opts := &compaction.Options{Progress: func(p compaction.Progress) {
			if calls++; calls == k {
				cancel()
			}
		}}
		res, err := compaction.Rewrite(ctx, lf.fs, lf.sources(t, lf.fs, from, to), keepEven, opts)
		cancel()
		last := reports[k-1].Phase == compaction.Done
		switch {
		case last && err != nil:
			t.Fatalf("cancelled once done: %v", err)
		case !last && !errors.Is(err, context.Canceled):
			t.Fatalf("cancelled at report %d (%+v): %v", k, reports[k-1], err)
		}
		if !last && calls != k {
			t.Fatalf("cancelled at report %d, %d more came", k, calls-k)
		}
		if isNew := e.check(t, lf.fs); isNew != last {
			t.Fatalf("cancelled at report %d (%+v): compacted %v", k, reports[k-1], isNew)
		}
		noTemp(t, lf.fs)
		if res.File != nil {
			_ = res.File.Close()
		}
	}
}

func TestRewriteProgress(t *testing.T) {
	const fill = 9000
	defer compaction.SetProgressEvery(4000)()
	reports, res := progressCalls(t, 21, 2, fill, 0, 2)
	var prev compaction.Progress
	for i, p := range reports {
		if p.Phase < prev.Phase || p.BytesRead < prev.BytesRead || p.BytesWritten < prev.BytesWritten ||
			p.Kept+p.Dropped < prev.Kept+prev.Dropped || p.Segments != 2 || p.SegmentsDone > p.Segments {
			t.Fatalf("report %d %+v after %+v", i, p, prev)
		}
		if p.Phase == prev.Phase && p.SegmentsDone < prev.SegmentsDone {
			t.Fatalf("report %d %+v after %+v", i, p, prev)
		}
		prev = p
	}
	final := reports[len(reports)-1]
	if final.Phase != compaction.Done || final.SegmentsDone != 2 || final.Kept == 0 || final.Dropped == 0 {
		t.Fatalf("final report %+v", final)
	}
	// Both passes read (and verify) every record.
	if final.BytesRead != 2*res.BytesIn || final.Kept != res.Kept || final.Dropped != res.Dropped ||
		res.BytesOut != segment.CompactedSize(final.BytesWritten, final.Kept) {
		t.Fatalf("final report %+v, result %+v", final, res)
	}
	var phases []compaction.Phase
	for _, p := range reports {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}
	if len(phases) != 4 {
		t.Fatalf("phases %v", phases)
	}
}

// fakeClock advances only when slept on.
type fakeClock struct {
	now       time.Time
	slept     time.Duration
	sleeps    int
	longest   time.Duration
	onSleep   func(n int) // called before each sleep
	cancelled int
}

func (c *fakeClock) install(o *compaction.Options) {
	compaction.SetClock(o, func() time.Time { return c.now }, func(ctx context.Context, d time.Duration) error {
		c.sleeps++
		if c.onSleep != nil {
			c.onSleep(c.sleeps)
		}
		if err := ctx.Err(); err != nil {
			c.cancelled++
			return err
		}
		c.now = c.now.Add(d)
		c.slept += d
		c.longest = max(c.longest, d)
		return nil
	})
}

// TestRewriteThrottle: with a rate limit, Rewrite sleeps (on an injected
// clock) as long as its reads take at that rate, in short steps, and a
// cancelled context cuts the sleeping short.
func TestRewriteThrottle(t *testing.T) {
	const rate = 100_000
	lf := newLog(t, 22, 3, 20000)
	clk := &fakeClock{now: time.Unix(1000, 0)}
	opts := &compaction.Options{BytesPerSecond: rate}
	var final compaction.Progress
	opts.Progress = func(p compaction.Progress) { final = p }
	clk.install(opts)
	start := time.Now()
	res, err := compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, 0, 3), keepEven, opts)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.File.Close()
	want := time.Duration(float64(final.BytesRead) / rate * float64(time.Second))
	if d := clk.slept - want; d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("slept %v for %d bytes at %d B/s, want %v", clk.slept, final.BytesRead, rate, want)
	}
	if clk.longest > 50*time.Millisecond || clk.sleeps < int(want/(50*time.Millisecond)) {
		t.Fatalf("%d sleeps, the longest %v", clk.sleeps, clk.longest)
	}
	if real := time.Since(start); real > want/2 {
		t.Fatalf("Rewrite took %v of real time: it slept on the real clock", real)
	}

	// Unlimited: no sleep at all.
	lf = newLog(t, 22, 3, 20000)
	clk = &fakeClock{now: time.Unix(1000, 0)}
	opts = &compaction.Options{}
	clk.install(opts)
	if res, err = compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, 0, 3), keepEven, opts); err != nil {
		t.Fatal(err)
	}
	_ = res.File.Close()
	if clk.sleeps != 0 {
		t.Fatalf("%d sleeps without a limit", clk.sleeps)
	}

	// Cancelled while throttled.
	lf = newLog(t, 22, 3, 20000)
	e := lf.expect(t, 0, 3, keepEven)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk = &fakeClock{now: time.Unix(1000, 0), onSleep: func(n int) {
		if n == 3 {
			cancel()
		}
	}}
	opts = &compaction.Options{BytesPerSecond: rate}
	clk.install(opts)
	_, err = compaction.Rewrite(ctx, lf.fs, lf.sources(t, lf.fs, 0, 3), keepEven, opts)
	if !errors.Is(err, context.Canceled) || clk.cancelled != 1 || clk.sleeps != 3 {
		t.Fatalf("cancelled while sleeping: %v after %d sleeps", err, clk.sleeps)
	}
	if e.check(t, lf.fs) {
		t.Fatal("compacted despite the cancellation")
	}
	noTemp(t, lf.fs)
}

// TestRewriteThrottleRealClock: a coarse check on the real clock that a
// limit slows Rewrite down at all (generous bounds: no timing flakes).
func TestRewriteThrottleRealClock(t *testing.T) {
	lf := newLog(t, 23, 1, 20000)
	var final compaction.Progress
	// About 30 KB read at 300 KB/s: at least 0.1 s.
	opts := &compaction.Options{BytesPerSecond: 300_000, Progress: func(p compaction.Progress) { final = p }}
	start := time.Now()
	res, err := compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, 0, 1), keepEven, opts)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.File.Close()
	min := time.Duration(float64(final.BytesRead)/300_000*float64(time.Second)) - 20*time.Millisecond
	if took := time.Since(start); took < min {
		t.Fatalf("took %v for %d bytes at 300 KB/s, at least %v expected", took, final.BytesRead, min)
	}
}
