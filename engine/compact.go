package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// CompactOptions tune Compact. Nil means the defaults.
type CompactOptions struct {
	// MinDeadRatio is the share of dead record bytes from which a run of
	// segments is rewritten, in (0, 1]; 0 means 0.5.
	MinDeadRatio float64
	// BytesPerSecond limits how fast compaction reads the log (both of
	// its passes count); 0 means DefaultCompactRate, a negative value no
	// limit. Unthrottled, a compaction takes a core and much of the
	// disk: on the 2-core VM Spool is measured on it multiplied the p99
	// of 16 durable writers by 3 to 17; at DefaultCompactRate it stayed
	// within 1.3x (spool bench, W6).
	BytesPerSecond int64
	// Progress, when set, is called as the sealed segments are surveyed
	// (at least once per segment and per MiB read) and as each run of
	// segments is measured, copied and swapped in. It must not block for
	// long; it may cancel the context. It may call the store's methods
	// but Close and Compact, which wait for the Compact that calls it. A
	// panic in it stops the Compact as a cancellation does, and is raised
	// again from Compact once the files are settled (runtime.Goexit, as
	// in t.FailNow, cannot be held: do not call it there).
	Progress func(CompactProgress)
}

// DefaultCompactRate is the read rate Compact keeps to unless told
// otherwise: 64 MiB/s.
const DefaultCompactRate = 64 << 20

// CompactProgress tells how far a Compact got: first CompactSurveying,
// over every sealed segment (Segments is their number), then for each run
// of segments it rewrites the phases CompactMeasuring, CompactCopying,
// CompactSwapping and CompactDone.
type CompactProgress = compaction.Progress

// The phases of a Compact.
const (
	CompactSurveying = compaction.Surveying
	CompactMeasuring = compaction.Measuring
	CompactCopying   = compaction.Copying
	CompactSwapping  = compaction.Swapping
	CompactDone      = compaction.Done
)

// CompactReport says what a Compact did.
type CompactReport struct {
	Segments    int   // segments examined (sealed ones covered by the index checkpoint)
	Rewritten   int   // segments replaced by compacted ones
	Files       int   // compacted files written
	BytesBefore int64 // file bytes of the segments replaced
	BytesAfter  int64 // file bytes of their replacements
	Kept        int   // records the rewritten segments kept
	Dropped     int   // records they dropped
	// Damaged counts the sealed segments left as they are because a
	// record in them failed its checks; Compact then returns the first
	// such error, after compacting the others.
	Damaged  int
	Duration time.Duration
}

// Compact reclaims the space of the events retention hides (deleted and
// tombstoned streams, TruncateBefore, MaxCount, MaxAge): it rewrites
// sealed segments whose share of dead bytes reaches MinDeadRatio into
// compacted segments holding only what stays, merging neighbours up to the
// segment size. Log positions do not change: subscriptions' saved
// positions, index entries and back-pointers stay valid.
//
// It runs alongside appends and reads: readers that hold a segment being
// replaced keep reading it until they are done. Progress may call the
// store's methods, but not Close or Compact (see CompactOptions). It stops when ctx ends or
// the store closes (returning ErrClosed, which then wraps
// context.Canceled), leaving every segment it had not yet swapped as it
// was; a crash at any point leaves either the old segments or their
// replacement (Open finishes or rolls back an interrupted swap). One
// Compact runs at a time; a second waits for it, or until its ctx ends.
//
// What compaction keeps of a stream whose events are hidden: its newest
// system record, and its newest event, which the index points at and the
// next append to the stream links to.
//
// A segment holding a damaged record (ErrCorrupt) is left as it is, damage
// included, so that readers keep reporting it rather than lose records
// silently; the segments on either side of it are still compacted, and
// the error comes back with the report (CompactReport.Damaged).
func (s *Store) Compact(ctx context.Context, opts *CompactOptions) (rep CompactReport, err error) {
	// A panic in the caller's Progress is held until everything below has
	// been undone or finished, then raised again (see progressPanic).
	var held progressPanic
	defer held.raise()
	defer func() {
		// A fault reading a segment (truncated from outside, or a page
		// the device cannot give back) fails the store, as on any path.
		if fe := (*mmapfile.FaultError)(nil); errors.As(err, &fe) {
			err = s.fail(err)
		}
	}()
	start := time.Now()
	var o CompactOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.BytesPerSecond == 0:
		o.BytesPerSecond = DefaultCompactRate
	case o.BytesPerSecond < 0:
		o.BytesPerSecond = 0 // compaction's "no limit"
	}
	// cancelRun stops the run once Progress panicked; set below, once the
	// run's context exists.
	cancelRun := func() {}
	progress := func(p CompactProgress) {
		s.compacting.Store(&p) // for Stats
		if o.Progress != nil && !held.panicked {
			held.call(o.Progress, p, cancelRun)
		}
	}
	copts := &compaction.Options{
		MinDeadRatio: o.MinDeadRatio,
		TargetSize:   s.opts.SegmentSize,
		// A run's segments are all mapped while it is rewritten: leave
		// readers half of what the store may map.
		MaxRunBytes:    max(s.opts.MaxMappedBytes/2, s.opts.SegmentSize),
		BytesPerSecond: o.BytesPerSecond,
		Progress:       progress,
	}
	if err := copts.Validate(); err != nil {
		return rep, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if err := s.usable(); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err // select below would pick a free slot half the time
	}
	select {
	case s.compactSlot <- struct{}{}:
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-s.stop:
		return rep, ErrClosed
	}
	defer func() { <-s.compactSlot }()
	defer s.compacting.Store(nil)
	caller := ctx
	defer func() {
		// Stopped by Close, not by the caller: say so, as every method
		// does once the store closes.
		if errors.Is(err, context.Canceled) && caller.Err() == nil && !held.panicked {
			select {
			case <-s.stop:
				err = fmt.Errorf("%w: %w", ErrClosed, err)
			default:
			}
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cancelRun = cancel
	go func() {
		select {
		case <-s.stop: // Close waits for the swap in progress, not the rest
		case <-ctx.Done():
		}
		cancel()
	}()
	// Shared lifeMu: Close (exclusive) waits until the files are settled.
	s.lifeMu.RLock()
	defer s.lifeMu.RUnlock()
	if err := s.usable(); err != nil {
		return rep, err
	}

	defer func() { rep.Duration = time.Since(start) }()
	cp, keep, err := s.retentionCheckpoint(ctx)
	if err != nil || keep == nil {
		return rep, err // nil keep: no stream has retention, nothing is dead
	}
	// The newest time a compaction measured retention at (this one's or
	// later): the files' creation time, which Open starts the stamps and
	// readers' time at. It never goes back, also across compactions
	// after a restart; appends' stamps (one clock reading far ahead) do
	// not move it.
	copts.Created = s.measured.Load()
	defer s.unpublishFloors()
	list := *s.segs.Load()
	var sealed []*segmentFile
	for _, f := range list[:len(list)-1] {
		// Replay after a crash scans the log from the index checkpoint on,
		// so only segments wholly below it are rewritten.
		if f.end.Load() > cp {
			break
		}
		sealed = append(sealed, f)
	}
	rep.Segments = len(sealed)
	stats, damaged, damage, err := s.survey(ctx, sealed, keep, o.BytesPerSecond, progress)
	if err != nil {
		return rep, err
	}
	rep.Damaged = len(damaged)
	// Runs are planned between damaged segments, which none may include.
	from := 0
	for _, to := range append(damaged, len(sealed)) {
		runs, err := compaction.Plan(stats[from:to], copts)
		if err != nil {
			return rep, err
		}
		for _, run := range runs {
			if err := s.rewriteRun(ctx, sealed[from+run.From:from+run.To], keep, copts, &rep); err != nil {
				return rep, err
			}
		}
		from = to + 1
	}
	s.stats.compactions.Add(1)
	if damage != nil {
		return rep, fmt.Errorf("spool: compaction left the damaged segments as they are (%d): %w", len(damaged), damage)
	}
	return rep, nil
}

// survey measures the dead bytes of every sealed segment, for Plan,
// reporting its progress as CompactSurveying. A segment with a damaged
// record is not measured: damaged lists their indexes in sealed, in
// order, and damage is the first one's error.
func (s *Store) survey(ctx context.Context, sealed []*segmentFile, keep compaction.Keep, rate int64, progress func(CompactProgress)) (stats []compaction.SegmentStats, damaged []int, damage error, err error) {
	stats = make([]compaction.SegmentStats, len(sealed))
	total := CompactProgress{Phase: CompactSurveying, Segments: len(sealed)}
	progress(total)
	for i, f := range sealed {
		src, release, err := s.compactionSource(f)
		if err != nil {
			return nil, nil, nil, err
		}
		done := total
		stats[i], err = compaction.Measure(ctx, src, keep, &compaction.Options{
			BytesPerSecond: rate,
			Progress: func(p compaction.Progress) {
				progress(CompactProgress{Phase: CompactSurveying, Segments: len(sealed), SegmentsDone: i,
					BytesRead: done.BytesRead + p.BytesRead, Kept: done.Kept + p.Kept, Dropped: done.Dropped + p.Dropped})
			},
		})
		release()
		if errors.Is(err, ErrCorrupt) {
			damaged = append(damaged, i)
			if damage == nil {
				damage = err
			}
			stats[i], err = compaction.SegmentStats{}, nil
		}
		if err != nil {
			return nil, nil, nil, err
		}
		total.SegmentsDone = i + 1
		total.BytesRead += stats[i].Bytes
		total.Kept += stats[i].LiveRecords
		total.Dropped += stats[i].Records - stats[i].LiveRecords
		progress(total)
	}
	return stats, damaged, damage, nil
}

// checkpointAll makes the log durable and checkpoints the index through
// everything committed, and returns the checkpoint. The caller holds
// lifeMu shared.
func (s *Store) checkpointAll() (uint64, error) {
	if s.opts.Durability != SyncEachCommit {
		if err := s.usable(); err != nil {
			return 0, err
		}
		if err := s.syncHeld(); err != nil { // syncs and checkpoints
			return 0, err
		}
		return s.index.Checkpoint(), nil
	}
	if err := s.waitCommitted(); err != nil {
		return 0, err
	}
	// Committed records are durable and their index updates made (the
	// applier publishes after both).
	target := s.committed.Load()
	if err := mmapfile.Guard(func() error { return s.checkpoint(target) }); err != nil {
		return 0, s.fail(err)
	}
	return target, nil
}

// compactionSource maps f for compaction; release lets go of it.
func (s *Store) compactionSource(f *segmentFile) (compaction.Source, func(), error) {
	m, err := s.maps.acquire(f)
	if err != nil {
		return compaction.Source{}, nil, err
	}
	return compaction.Source{Name: f.name, Base: f.base, End: f.end.Load(), File: m.file}, m.release, nil
}

// rewriteRun compacts run and swaps the result into the segment list.
func (s *Store) rewriteRun(ctx context.Context, run []*segmentFile, keep compaction.Keep, opts *compaction.Options, rep *CompactReport) error {
	// The run's mappings stay held until the swap is done: none is
	// unmapped and mapped again by name meanwhile, which from the rename
	// on names the compacted file.
	srcs := make([]compaction.Source, 0, len(run))
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	var before int64
	for _, f := range run {
		src, release, err := s.compactionSource(f)
		if err != nil {
			return err
		}
		releases = append(releases, release)
		srcs = append(srcs, src)
		before += f.size
	}
	res, err := compaction.Rewrite(ctx, s.fs, srcs, keep, opts)
	if errors.Is(err, compaction.ErrSwapIncomplete) {
		// The compacted file is in place but the old files are not all
		// gone, or not durably: the next Open finishes the swap. Until
		// then this store's list no longer matches the directory.
		return s.fail(err)
	}
	if err != nil {
		return err
	}
	if err := s.swapIn(run, res); err != nil {
		return s.fail(err)
	}
	rep.Rewritten += len(run)
	rep.Files++
	rep.BytesBefore += before
	rep.BytesAfter += res.BytesOut
	rep.Kept += res.Kept
	rep.Dropped += res.Dropped
	s.stats.compactedSegments.Add(uint64(len(run)))
	s.stats.compactedBytes.Add(uint64(before - res.BytesOut))
	return nil
}

// swapIn replaces run with the compacted segment res in the segment list.
// Readers that hold a mapping of the run keep it; those that come later
// find the compacted segment.
func (s *Store) swapIn(run []*segmentFile, res compaction.Result) error {
	pmap, err := segment.LoadPositionMap(res.File.Bytes(), res.Header)
	if err != nil {
		_ = res.File.Close()
		return segment.WithSegment(err, res.Name)
	}
	nf := &segmentFile{name: res.Name, base: res.Base, size: res.File.Size(), compacted: true}
	nf.end.Store(res.End)
	s.mu.Lock()
	list := *s.segs.Load()
	i := 0
	for i < len(list) && list[i] != run[0] {
		i++
	}
	if i+len(run) > len(list) || list[i+len(run)-1] != run[len(run)-1] {
		s.mu.Unlock()
		_ = res.File.Close()
		return fmt.Errorf("spool: compaction: the run %s.. is no longer in the segment list", run[0].name)
	}
	s.maps.add(nf, res.File, pmap)
	next := make(segmentList, 0, len(list)-len(run)+1)
	next = append(next, list[:i]...)
	next = append(next, nf)
	next = append(next, list[i+len(run):]...)
	s.segs.Store(&next)
	s.mu.Unlock()
	for _, f := range run {
		f.retired.Store(true) // before drop: nobody maps its name again
		s.maps.drop(f)
	}
	return nil
}

// retentionCheckpoint checkpoints the index and takes the retention
// snapshot compaction decides by, and returns both. The snapshot must
// agree with every system record, and count only durable events (see
// retainedOf). System records written before it are committed first
// (checkpointAll). Those written while it is taken are noted (s.touched):
// their streams are left out of it, so compaction keeps all of them this
// time, which is always safe. Its cutoffs are then published (floors),
// under s.mu, so that a metadata change from then on keeps hidden what
// this compaction may remove, however it loosens retention. It takes one
// pass however busy writers are.
func (s *Store) retentionCheckpoint(ctx context.Context) (uint64, compaction.Keep, error) {
	s.mu.Lock()
	s.touched = make(map[string]struct{})
	s.mu.Unlock()
	stopNoting := func() {
		s.mu.Lock()
		s.touched = nil
		s.mu.Unlock()
	}
	cp, err := s.checkpointAll()
	if err != nil {
		stopNoting()
		return 0, nil, err
	}
	snap, now, err := s.retentionSnapshot(ctx, cp)
	if err != nil || snap == nil {
		stopNoting()
		return cp, nil, err
	}
	floors := make(map[string]int64, len(snap))
	s.mu.Lock()
	for stream := range s.touched {
		delete(snap, stream)
	}
	s.touched = nil
	for stream, k := range snap {
		floors[stream] = k.cutoff
	}
	s.floors = floors
	// The snapshot's MaxAge cutoffs are at now: system records stamped
	// later, once the floors are gone, must not measure MaxAge at an
	// earlier time (a writer that read the clock before this compaction
	// began, or a clock that went back), or dropping MaxAge would keep
	// hidden less than this compaction removed. The compacted files
	// carry the store's time from here as their creation time, and Open
	// starts the store's time there (a clock set back across a restart).
	s.lastStamp.Store(max(s.lastStamp.Load(), now))
	s.measured.Store(max(s.measured.Load(), now))
	s.mu.Unlock()
	return cp, func(r *segment.Record) bool {
		k, ok := snap[string(r.Stream)]
		switch {
		case !ok:
			return true
		case isSystem(r.Flags):
			return r.Position == k.sys
		}
		return r.Version >= k.cutoff || r.Position == k.tail
	}, nil
}

// unpublishFloors drops the floors of a compaction that is over: the
// system records written during it raised their TruncateBefore past them,
// and retention hides more only from there on.
func (s *Store) unpublishFloors() {
	s.mu.Lock()
	s.floors = nil
	s.mu.Unlock()
}

// retained is what compaction keeps of a stream with retention.
type retained struct {
	cutoff int64  // events from this version on stay
	sys    uint64 // the newest system record stays
	tail   uint64 // the newest event stays
}

// testHookRetentionSnapshot, when set, runs while the retention snapshot
// is taken, between reading the metadata table and the index.
var testHookRetentionSnapshot func()

// retentionSnapshot returns what compaction keeps of each stream with
// retention as of now (also returned), counting the events before the
// checkpoint cp (see retainedOf), or nil when no stream has retention (then nothing is
// dead). Retention only ever hides more as time goes on (see
// SetStreamMetadata), so what it drops stays hidden; streams given
// retention later keep everything.
func (s *Store) retentionSnapshot(ctx context.Context, cp uint64) (_ map[string]retained, now int64, _ error) {
	if s.meta.n.Load() == 0 {
		return nil, 0, nil
	}
	s.meta.mu.RLock()
	metas := make(map[string]streamMeta, len(s.meta.m))
	for stream, m := range s.meta.m {
		metas[stream] = *m
	}
	s.meta.mu.RUnlock()
	if testHookRetentionSnapshot != nil {
		testHookRetentionSnapshot()
	}
	now = stampClock()
	snap := make(map[string]retained, len(metas))
	v := readView{s: s, walk: true}
	defer v.close()
	err := mmapfile.Guard(func() error {
		n := 0
		for stream, m := range metas {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			r, err := s.retainedOf(&v, stream, &m, now, cp)
			if errors.Is(err, ErrCorrupt) {
				// A damaged record of the stream hides what its
				// retention leaves: keep all of it. The survey
				// reports the damage if compaction reaches it.
				continue
			}
			if err != nil {
				return err
			}
			snap[stream] = r
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return snap, now, nil
}

// retainedOf works out what compaction keeps of stream, whose retention
// is m, at time now, counting only the stream's events before the
// checkpoint cp. In NoSync and SyncInterval modes the index (and m.last)
// count events before they are durable: were they counted, MaxCount could
// remove durable events that a power cut losing the newer ones would have
// left visible. Compaction rewrites only segments below cp, so the newest
// event before cp is the tail it keeps.
func (s *Store) retainedOf(v *readView, stream string, m *streamMeta, now int64, cp uint64) (retained, error) {
	k := retained{cutoff: m.md.TruncateBefore, sys: m.sys, tail: segment.NoPosition}
	// The lookup checks the record a matching fingerprint leads to: a
	// colliding stream's tail would make compaction keep that stream's
	// events by this stream's rules.
	var top segment.Record
	e, ok, err := s.index.Lookup(hashindex.FingerprintString(stream), matchStream(v, stream, &top))
	if err != nil || !ok || e.Version < 0 {
		return k, indexErr(err)
	}
	read := false
	if e.Tail >= cp {
		// Appended to since the checkpoint: walk back to the newest event
		// before it (a few steps: the checkpoint was just taken).
		if err := readStreamRecord(v, e.Tail, stream, e.Version, &top); err != nil {
			return k, err
		}
		for top.Position >= cp {
			if top.Prev == segment.NoPosition {
				return k, nil // no event before cp: none is rewritten
			}
			if err := readStreamRecord(v, top.Prev, stream, top.Version-1, &top); err != nil {
				return k, err
			}
		}
		read = true
		e.Tail, e.Version = top.Position, top.Version
	}
	k.tail = e.Tail
	if m.tombstoned {
		k.cutoff = e.Version + 1
		return k, nil
	}
	if k.cutoff = m.cutoff(e.Version); k.cutoff > e.Version || m.md.MaxAge <= 0 {
		return k, nil
	}
	if !read {
		if err := readStreamRecord(v, e.Tail, stream, e.Version, &top); err != nil {
			return k, err
		}
	}
	v.pin = v.last // top's segment stays while the search seeks
	defer func() { v.pin = nil }()
	k.cutoff, err = ageCutoff(v, stream, &top, k.cutoff, m, now)
	return k, err
}
