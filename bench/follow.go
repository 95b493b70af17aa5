package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooldb/spool/engine"
)

// followSpec describes a run of durable appends with live subscribers.
type followSpec struct {
	writers, events, subs int
	// deliveries, when not nil, receives for subscriber 0 the time (since
	// the run's start) each event number was delivered; acks then gets the
	// time its Append returned.
	deliveries, acks []time.Duration
}

// followRun is what a follow run measured.
type followRun struct {
	drive     DriveResult
	delivered int64 // events delivered, over all subscribers
	dev       int64
	committed int64
	notes     string
}

// runFollow opens a fresh durable store, starts spec.subs subscribers
// following the log from its start, drives the appends, and waits until
// every subscriber has seen every acknowledged event, checking that each
// sees them once and in log order.
func (r *Runner) runFollow(ctx context.Context, spec followSpec) (followRun, error) {
	var out followRun
	dir := r.scratch("follow")
	defer os.RemoveAll(dir)
	r.settle()
	opts := r.options(engine.SyncEachCommit)
	s, err := engine.Open(dir, opts)
	if err != nil {
		return out, err
	}
	defer s.Close()

	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	counts := make([]atomic.Int64, spec.subs)
	subErrs := make(chan error, spec.subs)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range spec.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subErrs <- follow(subCtx, s, &counts[i], i == 0, spec, start)
		}()
	}

	streams := StreamNames(r.Cfg.Streams)
	st0 := s.Stats()
	w := r.begin()
	dr, err := Drive(DriveSpec{Writers: spec.writers, Events: spec.events, Batch: 1, Streams: streams, Cap: r.Cfg.DurationCap},
		ackRecorder(ctx, s, spec.acks, start))
	out.drive = dr
	if err == nil {
		// Every subscriber must reach the last acknowledged event.
		err = watch(r.Cfg.Stall, "subscribers catching up", func(progress *atomic.Int64) error {
			for {
				var least, sum int64 = dr.Events, 0
				for i := range counts {
					c := counts[i].Load()
					least, sum = min(least, c), sum+c
				}
				progress.Store(sum)
				if least >= dr.Events {
					return nil
				}
				select {
				case err := <-subErrs:
					subErrs <- err // for the check below
					return fmt.Errorf("a subscriber ended early: %w", err)
				case <-time.After(time.Millisecond):
				}
			}
		})
	}
	cancel()
	wg.Wait()
	close(subErrs)
	for serr := range subErrs {
		if serr != nil && !errors.Is(serr, context.Canceled) && err == nil {
			err = serr
		}
	}
	waitSpares(dir, 15*time.Second)
	out.dev = w.end()
	if err != nil {
		return out, err
	}
	st := s.Stats()
	if got := int64(st.Events - st0.Events); got != dr.Events {
		return out, fmt.Errorf("store counted %d events, %d acknowledged", got, dr.Events)
	}
	for i := range counts {
		out.delivered += counts[i].Load()
		if c := counts[i].Load(); c != dr.Events {
			return out, fmt.Errorf("subscriber %d saw %d events, %d acknowledged", i, c, dr.Events)
		}
	}
	out.committed = int64(st.Bytes - st0.Bytes)
	out.notes = commitNotes(st0, st)
	out.notes += prepNotes(dir, opts, st.SegmentRolls-st0.SegmentRolls, out.dev, out.committed)
	return out, nil
}

// follow is one subscriber: it reads the log from its start and follows
// it until ctx ends, counting events into count and checking that
// positions strictly increase. With timed set it records each event's
// delivery time by the event number in its payload.
func follow(ctx context.Context, s *engine.Store, count *atomic.Int64, timed bool, spec followSpec, start time.Time) error {
	var last uint64
	first := true
	for ev, err := range s.Subscribe(ctx, 0, nil) {
		if err != nil {
			return err
		}
		if !first && ev.Position <= last {
			return fmt.Errorf("subscriber: position %d after %d", ev.Position, last)
		}
		first, last = false, ev.Position
		if timed && spec.deliveries != nil {
			n, ok := payloadNumber(ev.Data)
			if !ok || n < 0 || n >= len(spec.deliveries) {
				return fmt.Errorf("subscriber: event %s@%d has no event number in %q", ev.Stream, ev.Version, ev.Data)
			}
			spec.deliveries[n] = time.Since(start)
		}
		count.Add(1)
	}
	return nil
}

// ackRecorder is engineWriter (one event per Append) that also records in
// acks, when not nil, when each event number's Append returned.
func ackRecorder(ctx context.Context, s *engine.Store, acks []time.Duration, start time.Time) func(int) AppendFunc {
	return func(int) AppendFunc {
		buf := make([]byte, PayloadSize)
		ev := engine.Event{Type: EventType}
		return func(stream string, si, first, n int) error {
			if n != 1 {
				return fmt.Errorf("bench: follow workloads append one event per call, not %d", n)
			}
			ev.Data = FillPayload(buf, si, first)
			if _, err := s.Append(ctx, stream, engine.Any, ev); err != nil {
				return err
			}
			if acks != nil {
				acks[first] = time.Since(start)
			}
			return nil
		}
	}
}

// payloadNumber parses N out of a FillPayload document.
func payloadNumber(data []byte) (int, bool) {
	i := bytes.Index(data, []byte(`,"n":`))
	if i < 0 {
		return 0, false
	}
	rest := data[i+5:]
	j := bytes.IndexByte(rest, ',')
	if j < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(rest[:j]))
	return n, err == nil
}

// LiveFollow runs S1: FollowWriters durable writers while one subscriber
// follows the log live. Its latency is from the moment an event's Append
// returned (the commit that covers it is acknowledged) to the moment the
// subscriber received it; a subscriber that gets an event before its
// writer returned counts 0.
func (r *Runner) LiveFollow(ctx context.Context) (Result, error) {
	c := r.Cfg
	res := Result{Workload: "S1", Params: fmt.Sprintf("C=%d, 1 sub", c.FollowWriters), Durability: engine.SyncEachCommit.String()}
	spec := followSpec{writers: c.FollowWriters, events: c.Events, subs: 1,
		deliveries: make([]time.Duration, c.Events), acks: make([]time.Duration, c.Events)}
	run, err := r.runFollow(ctx, spec)
	if err != nil {
		return res, fmt.Errorf("S1: %w", err)
	}
	lat := NewLatencies(int(run.drive.Events))
	early := 0
	for n, ack := range spec.acks {
		if ack == 0 { // not appended (time cap)
			continue
		}
		d := spec.deliveries[n] - ack
		if d < 0 {
			early++
			d = 0
		}
		lat.Add(d)
	}
	q := MergeLatencies(lat)
	res.setRates(run.drive.Events, run.drive.Events*PayloadSize, run.drive.Elapsed)
	res.setLatency(q)
	res.setDevice(run.dev, run.committed)
	res.Capped = run.drive.Capped
	res.Notes = fmt.Sprintf("latency = ack → delivery (%.1f%% delivered before the writer returned); append p50 %s p99 %s; %s",
		100*float64(early)/float64(max(q.Count(), 1)), FormatDuration(run.drive.Latency.At(0.5)), FormatDuration(run.drive.Latency.At(0.99)), run.notes)
	return res, nil
}

// Subscribers runs S2: W1 with FollowWriters durable writers, first alone,
// then while Subscribers subscribers follow the log live. The second row's
// XBase is its events/s over the first's.
func (r *Runner) Subscribers(ctx context.Context) ([]Result, error) {
	c := r.Cfg
	var out []Result
	for _, subs := range []int{0, c.Subscribers} {
		res := Result{Workload: "S2", Params: fmt.Sprintf("C=%d, %d subs", c.FollowWriters, subs), Durability: engine.SyncEachCommit.String()}
		run, err := r.runFollow(ctx, followSpec{writers: c.FollowWriters, events: c.Events, subs: subs})
		if err != nil {
			return out, fmt.Errorf("S2 %s: %w", res.Params, err)
		}
		res.setRates(run.drive.Events, run.drive.Events*PayloadSize, run.drive.Elapsed)
		res.setLatency(run.drive.Latency)
		res.setDevice(run.dev, run.committed)
		res.Capped = run.drive.Capped
		res.Notes = run.notes
		if subs > 0 {
			res.Notes = fmt.Sprintf("%d events delivered; %s", run.delivered, res.Notes)
			if base := out[0].EventsPerSec; base > 0 {
				res.XBase = res.EventsPerSec / base
				res.BaseName = out[0].Params
			}
		}
		out = append(out, res)
	}
	return out, nil
}
