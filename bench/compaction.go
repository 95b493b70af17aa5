package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/spooldb/spool/engine"
)

// deadStore builds W6's store in a fresh directory: the L store's shape
// (LoadStreams x LoadPerStream events, LoadBatch per Append, NoSync, then
// Sync), then DeleteStream on dead percent of its streams. The store is
// closed.
func (r *Runner) deadStore(ctx context.Context, dead int) (string, error) {
	c := r.Cfg
	dir := r.scratch(fmt.Sprintf("dead%d", dead))
	s, err := engine.Open(dir, r.deadOptions(engine.NoSync))
	if err != nil {
		return dir, err
	}
	streams := StreamNames(c.LoadStreams)
	_, err = Drive(DriveSpec{Writers: 1, Events: c.LoadStreams * c.LoadPerStream, Batch: c.LoadBatch, Streams: streams},
		engineWriter(ctx, s, c.LoadBatch))
	// Every stream whose index is below dead% of the count: spread over
	// the whole log, as the streams are appended to round robin.
	for i := 0; err == nil && i < len(streams)*dead/100; i++ {
		err = s.DeleteStream(ctx, streams[i], engine.Any)
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return dir, err
}

// deadOptions are W6's engine options: the suite's, with segments small
// enough that the store spans at least eight, of which compaction
// rewrites the sealed ones.
func (r *Runner) deadOptions(d engine.Durability) *engine.Options {
	o := r.options(d)
	size := o.SegmentSize
	if size == 0 {
		size = engine.DefaultSegmentSize
	}
	records := int64(r.Cfg.LoadStreams*r.Cfg.LoadPerStream) * recordSize
	for size > 64<<10 && size > records/8 {
		size /= 2
	}
	o.SegmentSize = size
	return o
}

// recordSize is the size of a bench event's record in the log.
const recordSize = 224

// Compaction runs W6: compaction of a store whose events are 50% and 90%
// dead (streams deleted), timed alone (MB/s of input: the segment files
// rewritten), and the effect of a compaction on durable appends running
// alongside it.
func (r *Runner) Compaction(ctx context.Context) ([]Result, error) {
	var out []Result
	for _, dead := range []int{50, 90} {
		res, err := r.compactRow(ctx, dead)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	rows, err := r.compactImpact(ctx)
	return append(out, rows...), err
}

func (r *Runner) compactRow(ctx context.Context, dead int) (Result, error) {
	res := Result{Workload: "W6", Params: fmt.Sprintf("compact %d%%", dead), Durability: "-"}
	err := r.withDeadStore(ctx, dead, func(s *engine.Store) error {
		w := r.begin()
		// Every sealed segment: the row measures rewriting at this dead share.
		rep, err := s.Compact(ctx, &engine.CompactOptions{MinDeadRatio: 0.01, BytesPerSecond: -1})
		if err != nil {
			return fmt.Errorf("W6: %w", err)
		}
		dev := w.end()
		if rep.Rewritten == 0 {
			return fmt.Errorf("W6: compaction of a store %d%% dead rewrote nothing: %+v", dead, rep)
		}
		res.setRates(int64(rep.Kept+rep.Dropped), rep.BytesBefore, rep.Duration)
		res.setDevice(dev, rep.BytesAfter)
		res.Notes = fmt.Sprintf("%s segments: %d of %d sealed ones into %d files, %s -> %s (%.1f%%), records %d kept, %d dropped; MB/s is of segment bytes read; the active segment is never rewritten",
			humanMB(s.Options().SegmentSize), rep.Rewritten, rep.Segments, rep.Files, humanMB(rep.BytesBefore), humanMB(rep.BytesAfter),
			100*float64(rep.BytesAfter)/float64(rep.BytesBefore), rep.Kept, rep.Dropped)
		return nil
	})
	return res, err
}

func humanMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// errCompacted stops a Drive once the compaction it runs alongside is done.
var errCompacted = errors.New("compaction done")

// compactThrottle is the read rate of W6's throttled compaction: the
// engine's default.
const compactThrottle = engine.DefaultCompactRate

// compactImpact measures FollowWriters durable writers appending to
// streams of their own on a 90%-dead store, first alone, then while the
// store compacts at full speed, then (on a second such store) while it
// compacts at compactThrottle bytes/s. Only the appends made during a
// compaction count for its row.
func (r *Runner) compactImpact(ctx context.Context) ([]Result, error) {
	c := r.Cfg
	params := fmt.Sprintf("C=%d", c.FollowWriters)
	streams := make([]string, c.FollowWriters*4)
	for i := range streams {
		streams[i] = fmt.Sprintf("writer-%d", i)
	}
	events := max(c.Events/4, 1000)
	base := Result{Workload: "W6", Params: params, Durability: engine.SyncEachCommit.String()}
	var out []Result
	for _, rate := range []int64{-1, compactThrottle} {
		during := Result{Workload: "W6", Params: params + " +compact", Durability: engine.SyncEachCommit.String()}
		if rate > 0 {
			during.Params += fmt.Sprintf(" %dMiB/s", rate>>20)
		}
		err := r.withDeadStore(ctx, 90, func(s *engine.Store) error {
			if rate < 0 {
				dr, err := Drive(DriveSpec{Writers: c.FollowWriters, Events: events, Streams: streams, Cap: c.DurationCap},
					engineWriter(ctx, s, 1))
				if err != nil {
					return fmt.Errorf("W6 appends: %w", err)
				}
				base.setRates(dr.Events, dr.Events*PayloadSize, dr.Elapsed)
				base.setLatency(dr.Latency)
				base.Capped = dr.Capped
				out = append(out, base)
			}
			return r.appendsDuringCompaction(ctx, s, streams, 20*events, rate, &during)
		})
		if err != nil {
			return out, err
		}
		if base.EventsPerSec > 0 {
			during.XBase, during.BaseName = during.EventsPerSec/base.EventsPerSec, params
		}
		if base.P99 > 0 {
			during.Notes = fmt.Sprintf("p99 %.2fx without compaction; %s", float64(during.P99)/float64(base.P99), during.Notes)
		}
		out = append(out, during)
	}
	return out, nil
}

// withDeadStore builds a store dead percent dead (deadStore) and runs fn on
// it, opened in SyncEachCommit mode.
func (r *Runner) withDeadStore(ctx context.Context, dead int, fn func(s *engine.Store) error) error {
	dir, err := r.deadStore(ctx, dead)
	defer os.RemoveAll(dir)
	if err != nil {
		return fmt.Errorf("W6: build the store: %w", err)
	}
	r.settle()
	s, err := engine.Open(dir, r.deadOptions(engine.SyncEachCommit))
	if err != nil {
		return err
	}
	err = fn(s)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// appendsDuringCompaction runs durable appends while s compacts (at rate
// bytes/s, negative: no limit) and stops them when the compaction is done.
func (r *Runner) appendsDuringCompaction(ctx context.Context, s *engine.Store, streams []string, events int, rate int64, res *Result) error {
	c := r.Cfg
	var done atomic.Bool
	var rep engine.CompactReport
	var cerr error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		rep, cerr = s.Compact(ctx, &engine.CompactOptions{BytesPerSecond: rate})
		done.Store(true)
	}()
	write := engineWriter(ctx, s, 1)
	dr, err := Drive(DriveSpec{Writers: c.FollowWriters, Events: events, Streams: streams, Cap: c.DurationCap},
		func(w int) AppendFunc {
			app := write(w)
			return func(stream string, si, first, n int) error {
				// The first append of each writer always runs, so that
				// even a compaction quicker than one commit has a row.
				if done.Load() && first >= c.FollowWriters {
					return errCompacted
				}
				return app(stream, si, first, n)
			}
		})
	<-finished
	if err != nil && !errors.Is(err, errCompacted) {
		return fmt.Errorf("W6 appends during compaction: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("W6 compaction under appends: %w", cerr)
	}
	res.setRates(dr.Events, dr.Events*PayloadSize, dr.Elapsed)
	res.setLatency(dr.Latency)
	res.Capped = dr.Capped && !done.Load()
	res.Notes = fmt.Sprintf("the compaction took %s, rewrote %d segments, %s -> %s",
		FormatDuration(rep.Duration), rep.Rewritten, humanMB(rep.BytesBefore), humanMB(rep.BytesAfter))
	return nil
}
