package engine

import (
	"context"
	"fmt"
	"math"
	"os"
	"unsafe"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// streamHead is what an appender needs of a stream: its newest event and,
// for a stream with system records, its retention state.
type streamHead struct {
	version         int64  // -1 when the stream has no events
	tail            uint64 // position of the newest event
	tailSkip        uint64 // its skip pointer
	tailSkipVersion uint64
	tailStamp       int64          // its timestamp: the next events' stamps are not lower
	slot            hashindex.Slot // where the index holds the stream, when known
	hasMeta         bool           // the stream has system records; meta is valid
	meta            streamMeta     // its retention, as of this head
	// fresh: neither the index nor a pending append holds the stream, so
	// writing it takes an index slot (see roomForLocked).
	fresh bool
}

var noStreamHead = streamHead{version: -1, tail: segment.NoPosition, tailSkip: segment.NoPosition}

// entry is the index entry for the stream at this head.
func (h *streamHead) entry() hashindex.Entry {
	e := hashindex.Entry{Tail: h.tail, Version: h.version, State: hashindex.Live}
	if h.version < 0 {
		// No events, only system records: the index checks stream IDs
		// at the tail, so it points at the newest of those.
		e.Tail = h.meta.sys
	}
	if h.hasMeta {
		e.Aux = h.meta.sys + 1 // zero means none
		// The state says what the newest system record did, the same
		// way recovery derives it from the log.
		switch {
		case h.meta.tombstoned:
			e.State = hashindex.Tombstoned
		case h.meta.deleted:
			e.State = hashindex.Deleted
		}
	}
	return e
}

// truncateBefore is the stream's TruncateBefore, 0 without metadata.
func (h *streamHead) truncateBefore() int64 {
	if !h.hasMeta {
		return 0
	}
	return h.meta.md.TruncateBefore
}

// visibleVersion is the stream's version as callers see it: NoStream when
// it has no events, or when DeleteStream (or TruncateBefore) hid them all.
func (h *streamHead) visibleVersion() int64 {
	if h.version < h.truncateBefore() {
		return NoStream
	}
	return h.version
}

// indexUpdate is an index change that waits for the msync of its record,
// with the change to the metadata table that goes with it.
type indexUpdate struct {
	fp     hashindex.Fingerprint
	stream string
	entry  hashindex.Entry
	slot   hashindex.Slot // where the index held the stream, when known
	system bool           // a system record: meta replaces the stream's entry
	meta   streamMeta     // for system records
}

// Append appends events to stream, atomically: after it returns without
// error all of them are in the log, and after a crash either all or none
// are. expected is the stream's current version, or Any, NoStream or
// StreamExists; on a mismatch the error is a *WrongExpectedVersionError.
//
// Retrying an append whose events (matched by non-zero event ID) already
// follow the expected version succeeds without writing them again, and
// returns where they are. Any and StreamExists appends are never
// recognised so; a NoStream retry is looked for where the stream began:
// at version 0, or at its TruncateBefore after a delete, or, while a
// TruncateBefore past the stream's end hides every event, among its
// newest events appended since that TruncateBefore was set.
//
// In SyncEachCommit mode Append returns only after the msync covering its
// records; once its records are written it waits for that outcome even if
// ctx is cancelled, so that the result is never ambiguous (but see
// ErrFailed).
func (s *Store) Append(ctx context.Context, stream string, expected int64, events ...Event) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	if err := s.usable(); err != nil {
		return AppendResult{}, err
	}
	size, err := s.checkAppend(stream, expected, events)
	if err != nil {
		return AppendResult{}, err
	}
	fp := hashindex.FingerprintString(stream)
	now := stampClock()
	var res AppendResult
	err = s.write(func() (uint64, error) {
		var (
			wait uint64
			err  error
		)
		res, wait, err = s.appendLocked(stream, fp, expected, events, size, now)
		return wait, err
	})
	if err != nil {
		return AppendResult{}, err
	}
	return res, nil
}

// write runs fn, which appends records, under s.mu and the fault guard,
// and then waits for the commit of the log position it returns (0 for
// none). A fatal error fails the store.
func (s *Store) write(fn func() (uint64, error)) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	var wait uint64
	err := mmapfile.Guard(func() error {
		defer s.writerView.close()
		var err error
		wait, err = fn()
		return err
	})
	var g *commitGroup
	switch {
	case err != nil:
		if isFatal(err) {
			err = s.fail(err)
		}
	case wait > s.committed.Load():
		g = s.joinLocked()
	}
	s.mu.Unlock()
	if g != nil {
		err = g.wait()
	}
	return err
}

// checkAppend validates the arguments and returns the encoded batch size.
func (s *Store) checkAppend(stream string, expected int64, events []Event) (int64, error) {
	if len(stream) == 0 || len(stream) > MaxStreamIDLen {
		return 0, fmt.Errorf("%w: %d bytes (1 to %d allowed)", ErrInvalidStreamID, len(stream), MaxStreamIDLen)
	}
	if len(events) == 0 || len(events) > MaxEventsPerAppend {
		return 0, fmt.Errorf("%w: %d (1 to %d allowed)", ErrTooManyEvents, len(events), MaxEventsPerAppend)
	}
	if expected < 0 && expected != Any && expected != NoStream && expected != StreamExists {
		return 0, fmt.Errorf("%w: %d", ErrInvalidExpectedVersion, expected)
	}
	limit := maxBatchBytes(s.opts.SegmentSize)
	var size int64
	for i := range events {
		ev := &events[i]
		if len(ev.Type) > MaxEventTypeLen {
			return 0, fmt.Errorf("%w: event %d type is %d bytes (at most %d)", ErrInvalidEvent, i, len(ev.Type), MaxEventTypeLen)
		}
		n := int64(segment.RecordHeaderSize) + int64(len(stream)) + int64(len(ev.Type)) + int64(len(ev.Metadata)) + int64(len(ev.Data))
		n = (n + 7) &^ 7
		if n > limit {
			return 0, fmt.Errorf("%w: event %d needs %d bytes, a segment holds %d", ErrEventTooLarge, i, n, limit)
		}
		size += n
	}
	if size > limit {
		return 0, fmt.Errorf("%w: %d bytes, a segment holds %d", ErrBatchTooLarge, size, limit)
	}
	return size, nil
}

// appendLocked checks the expected version and writes the batch into the
// mapping. It returns the log position the caller must see committed
// before acknowledging (0 when nothing needs waiting for).
func (s *Store) appendLocked(stream string, fp hashindex.Fingerprint, expected int64, events []Event, size, now int64) (_ AppendResult, _ uint64, err error) {
	head, err := s.headLocked(stream, fp)
	if err != nil {
		return AppendResult{}, 0, err
	}
	now = s.stampLocked(now, &head)
	if ok, err := s.expectLocked(stream, &head, expected); !ok {
		if err == nil && expected != Any && expected != StreamExists {
			// Perhaps a retry of an append that succeeded. One with
			// NoStream landed where the stream began: at its
			// TruncateBefore (after a delete), or at version 0 (a
			// TruncateBefore raised since hides part of it).
			exps := []int64{expected}
			if expected == NoStream {
				exps = []int64{head.truncateBefore() - 1, -1}
			}
			for i, exp := range exps {
				if head.version <= exp || (i > 0 && exp == exps[0]) {
					continue
				}
				res, end, ok, rerr := s.retriedLocked(stream, head, exp, events)
				if rerr != nil || ok {
					return res, end, rerr
				}
			}
		}
		if err == nil {
			err = &WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: head.visibleVersion()}
		}
		return AppendResult{}, 0, err
	}
	if expected == NoStream && head.hasMeta && head.version >= 0 {
		// The stream has events, all hidden: a TruncateBefore past its
		// end hides new ones too, so the NoStream check passes again for
		// a retry. Its events are the newest, written after the system
		// record that set that TruncateBefore (ones before it are older
		// events a new append may repeat).
		if exp := head.version - int64(len(events)); exp >= -1 {
			res, end, ok, rerr := s.retriedLocked(stream, head, exp, events)
			if rerr != nil || (ok && res.Position > head.meta.sys) {
				return res, end, rerr
			}
		}
	}

	if err := s.roomForLocked(&head); err != nil {
		return AppendResult{}, 0, err
	}
	w, err := s.reserveLocked(size)
	if err != nil {
		return AppendResult{}, 0, err
	}
	defer func() { w.undoUnless(err == nil) }()
	pos := w.pos
	dst := w.dst
	res := AppendResult{FirstVersion: head.version + 1, Position: pos}
	synced := s.durable()
	streamBytes := unsafe.Slice(unsafe.StringData(stream), len(stream))
	parent := head
	for i := range events {
		ev := &events[i]
		rec := segment.Record{
			Position:      pos,
			Prev:          segment.NoPosition,
			Skip:          segment.NoPosition,
			Version:       parent.version + 1,
			Timestamp:     now,
			ID:            ev.ID,
			SyncedThrough: synced,
			Stream:        streamBytes,
			Type:          unsafe.Slice(unsafe.StringData(ev.Type), len(ev.Type)),
			Metadata:      ev.Metadata,
			Data:          ev.Data,
		}
		if i < len(events)-1 {
			rec.Flags = segment.FlagContinues
		}
		if parent.version >= 0 {
			rec.Prev = parent.tail
			if rec.Skip, rec.SkipVersion, err = s.nextSkipLocked(parent); err != nil {
				return AppendResult{}, 0, err
			}
		}
		n, err := segment.Encode(dst, &rec)
		if err != nil {
			return AppendResult{}, 0, err
		}
		parent.version, parent.tail, parent.tailSkip, parent.tailSkipVersion, parent.tailStamp = rec.Version, pos, rec.Skip, rec.SkipVersion, now
		pos += uint64(n)
		dst = dst[n:]
	}
	s.wroteLocked(w, parent.tail, pos)
	parent.meta.deleted = false // an event revives a deleted stream
	res.LastVersion = parent.version
	s.stats.appends.Add(1)
	s.stats.events.Add(uint64(len(events)))
	s.stats.bytes.Add(uint64(size))
	wait, err := s.headChangedLocked(stream, parent, indexUpdate{fp: fp, stream: stream, entry: parent.entry(), slot: parent.slot}, pos)
	if err != nil {
		return AppendResult{}, 0, err
	}
	return res, wait, nil
}

// stampLocked returns the timestamp for records written now to the stream
// at head: the clock, but never less than the last stamp given since Open
// (nor than the time the last compaction measured MaxAge at, see
// retentionCheckpoint and openSegment), nor than the stamp of the stream's newest
// event, which carries the stream's order across a reopen after the clock
// went back (MaxAge relies on the stamps of a stream never going back, see
// ageCutoff). A stream stamped ahead of the clock does not pull the
// others' stamps along.
func (s *Store) stampLocked(now int64, head *streamHead) int64 {
	now = max(now, s.lastStamp.Load())
	s.lastStamp.Store(now)
	return max(now, head.tailStamp)
}

// expectLocked checks expected against the stream's head: false with a
// nil error is a mismatch. A tombstoned stream fails with ErrStreamDeleted.
//
// After DeleteStream (or with TruncateBefore set past the newest event)
// the stream reads as empty: NoStream matches it, StreamExists and the
// version it had before do not (a writer that read the stream before it
// was deleted must not revive it unknowingly), and the next event
// continues the old version numbers. MaxCount and MaxAge hide events but
// not the stream: its newest version still matches, as StreamVersion
// still returns it.
func (s *Store) expectLocked(stream string, head *streamHead, expected int64) (bool, error) {
	if head.hasMeta && head.meta.tombstoned {
		return false, fmt.Errorf("%w: %q", ErrStreamDeleted, stream)
	}
	switch expected {
	case Any:
		return true, nil
	case NoStream:
		return head.version < head.truncateBefore(), nil
	case StreamExists:
		return head.version >= max(head.truncateBefore(), 0), nil
	}
	return expected == head.visibleVersion(), nil
}

// pendingWrite is space reserved for records at the log end: in the stage
// or in the mapping.
type pendingWrite struct {
	s    *Store
	seg  *mappedSegment
	pos  uint64
	dst  []byte
	mark stageMark
	done bool
}

// reserveLocked makes room for size bytes of records at the log end,
// rolling to a new segment when they do not fit.
func (s *Store) reserveLocked(size int64) (*pendingWrite, error) {
	if s.written+uint64(size) > s.active.limit() {
		if err := s.rollLocked(); err != nil {
			return nil, err
		}
	}
	w := &s.reserved
	*w = pendingWrite{s: s, seg: s.active, pos: s.written}
	if s.staging {
		w.mark = s.stageMarkLocked()
		w.dst = s.stageLocked(w.seg, w.pos, size)
	} else {
		off := w.seg.offset(w.pos)
		s.faultAheadLocked(off, off+size)
		w.dst = w.seg.data[off : off+size]
	}
	return w, nil
}

// writeAhead is how far past the end of its records the writer faults the
// active segment's pages in when it stores records straight into the
// mapping (not staging: NoSync, SyncInterval, MappedWrites): the 64 page
// faults one madvise replaces cost ~1 ms here, the madvise and the stores
// after it about a third of that (measured with 1 MiB steps, see
// mmapfile's populateWrite), paid by the append that crosses the mark.
const writeAhead = 256 << 10

// faultAheadLocked faults the active segment's pages in for writing, from
// the page of file offset from (where records are about to be stored)
// through writeAhead past to, once to passes what was faulted in. Pages
// before from hold records already and are not touched: advising them
// would dirty them again.
func (s *Store) faultAheadLocked(from, to int64) {
	if to+segment.RecordHeaderSize <= s.faultedTo {
		return // the header cleared after the records too
	}
	page := int64(os.Getpagesize())
	start := max(s.faultedTo, from&^(page-1))
	end := min(to+writeAhead, int64(len(s.active.data)))
	if end > start { // not at the segment's end, where a last header may not fit
		s.active.file.Advise(start, end-start, mmapfile.AdviseWillWrite)
	}
	s.faultedTo = end
}

// undoUnless takes back a reservation that was not written after all:
// nothing of a failed append may reach the file, and the log end must
// still read as the end.
func (w *pendingWrite) undoUnless(written bool) {
	if written || w.done {
		return
	}
	w.done = true
	if w.s.staging {
		w.s.stageRollbackLocked(w.mark)
	} else {
		clear(w.dst[:min(segment.RecordHeaderSize, len(w.dst))])
	}
}

// wroteLocked completes a reservation whose records end at end, the last
// of them at position last.
func (s *Store) wroteLocked(w *pendingWrite, last, end uint64) {
	w.done = true
	if !s.staging {
		// The first bytes past the end must always read as "end"
		// (writeStaged does the same for staged records).
		off := w.seg.offset(end)
		clear(w.seg.data[off:min(off+segment.RecordHeaderSize, int64(len(w.seg.data)))])
	}
	s.written = end
	s.lastRecordLen = 0
	if end-last <= math.MaxUint32 {
		s.lastRecordLen = uint32(end - last)
	}
	s.askSpareAtHalfLocked(w.seg, end)
}

// headChangedLocked makes the stream's new head known once its records,
// ending at end, are committed: in SyncEachCommit mode through the next
// group commit (it returns end, the position to wait for), in the others
// at once.
func (s *Store) headChangedLocked(stream string, head streamHead, u indexUpdate, end uint64) (uint64, error) {
	if s.opts.Durability == SyncEachCommit {
		// The index may only point at durable records: the applier
		// applies this after the msync.
		s.pending[stream] = head
		g := s.groupLocked()
		g.updates = append(g.updates, u)
		return end, nil
	}
	if err := s.applyUpdate(&s.writerView, &u); err != nil {
		return 0, err
	}
	s.publishCommitted(end, stream)
	return 0, nil
}

// applyUpdate puts u into the index and the metadata table; v is the
// caller's view for reading the records the index points at.
func (s *Store) applyUpdate(v *readView, u *indexUpdate) error {
	if err := s.putIndex(v, u.slot, u.fp, u.stream, u.entry); err != nil {
		return err
	}
	switch {
	case u.system:
		s.meta.put(u.stream, u.meta)
	case u.entry.Aux != 0:
		s.meta.setLast(u.stream, u.entry.Version)
	}
	return nil
}

// headLocked returns the stream's head as appends see it: pending appends
// first, then the index and the metadata table.
func (s *Store) headLocked(stream string, fp hashindex.Fingerprint) (streamHead, error) {
	if h, ok := s.pending[stream]; ok {
		h.fresh = false // its slot is counted among the pending ones
		return h, nil
	}
	src := writerSource{s}
	r := &s.scan
	e, slot, found, err := s.index.LookupSlot(fp, matchStream(src, stream, r))
	if err != nil {
		return noStreamHead, indexErr(err)
	}
	if !found {
		h := noStreamHead
		h.fresh = true
		return h, nil
	}
	head := noStreamHead
	if e.Version >= 0 {
		if r.Version != e.Version || isSystem(r.Flags) {
			return noStreamHead, chainError(src, e.Tail, stream, e.Version, r)
		}
		head = streamHead{version: e.Version, tail: e.Tail, tailSkip: r.Skip, tailSkipVersion: r.SkipVersion, tailStamp: r.Timestamp}
	}
	head.slot = slot
	if e.Aux != 0 {
		m, ok, err := s.meta.get(stream)
		if err != nil {
			return noStreamHead, err
		}
		if !ok || m.sys != e.Aux-1 {
			return noStreamHead, &CorruptionError{Segment: s.index.Name(), Offset: -1, Reason: fmt.Sprintf(
				"stream %q: the index names system record %d, the metadata loaded at Open does not", stream, e.Aux-1)}
		}
		head.hasMeta, head.meta = true, m
	} else if e.Version < 0 {
		return noStreamHead, chainError(src, e.Tail, stream, e.Version, r)
	}
	return head, nil
}

// nextSkipLocked computes the skip pointer of the record following parent.
// When compaction removed the record parent's skip pointer leads to (its
// stream's retention hid it), the pointer goes to parent itself: still a
// valid skip, if not the one segment.NextSkip's recurrence would give.
func (s *Store) nextSkipLocked(parent streamHead) (uint64, uint64, error) {
	p := segment.Record{Position: parent.tail, Version: parent.version, Skip: parent.tailSkip, SkipVersion: parent.tailSkipVersion}
	if p.Skip == segment.NoPosition {
		skip, v := segment.NextSkip(&p, nil)
		return skip, v, nil
	}
	j := &s.scan
	if err := readRecord(writerSource{s}, p.Skip, j); err != nil {
		if _, removed := removedVersion(err); removed {
			return parent.tail, uint64(parent.version), nil
		}
		return 0, 0, err
	}
	skip, v := segment.NextSkip(&p, j)
	return skip, v, nil
}

// retriedLocked recognises a retry of an append that already succeeded:
// the stream's events right after expected carry exactly these IDs.
func (s *Store) retriedLocked(stream string, head streamHead, expected int64, events []Event) (AppendResult, uint64, bool, error) {
	first := expected + 1
	last := first + int64(len(events)) - 1
	if last > head.version {
		return AppendResult{}, 0, false, nil
	}
	for i := range events {
		if events[i].ID == ([16]byte{}) {
			return AppendResult{}, 0, false, nil
		}
	}
	src := writerSource{s}
	r := &s.scan
	var end uint64
	same := false
	err := s.writerWalk(nil, func() error {
		if err := readStreamRecord(src, head.tail, stream, head.version, r); err != nil {
			return err
		}
		if err := seekVersion(src, stream, r, last); err != nil {
			return notRemoved(err)
		}
		end = r.End()
		for i := len(events) - 1; ; i-- {
			if r.ID != events[i].ID {
				return nil
			}
			if i == 0 {
				break
			}
			if err := readStreamRecord(src, r.Prev, stream, r.Version-1, r); err != nil {
				return notRemoved(err)
			}
		}
		same = true
		return nil
	})
	if err != nil || !same {
		return AppendResult{}, 0, false, err
	}
	return AppendResult{FirstVersion: first, LastVersion: last, Position: r.Position}, end, true, nil
}

// writerWalk runs walk, which follows a stream's chain through the
// writer's view, with the view in walk mode: reaching a segment lets go
// of the others but pin, whose records the caller still reads. Otherwise
// one append's seeks (a retry check, a MaxAge search: O(log² n) records)
// would hold every segment they pass until the append ends, past
// MaxMappedBytes. Nothing the writer read before keeps pointing into
// the view: stream heads are values.
func (s *Store) writerWalk(pin *mappedSegment, walk func() error) error {
	v := &s.writerView
	v.walk, v.pin = true, pin
	defer func() { v.walk, v.pin = false, nil }()
	return walk()
}

// notRemoved is err, or nil when compaction removed the record looked for:
// events retention hid cannot make an append a retry.
func notRemoved(err error) error {
	if _, removed := removedVersion(err); removed {
		return nil
	}
	return err
}

// rollLocked seals the active segment and continues in a new one that
// starts where the log ends.
func (s *Store) rollLocked() error {
	if s.written == s.active.base {
		return s.replaceEmptyActiveLocked()
	}
	if !s.staging {
		// Records are stored into the mapping as they are appended: the
		// old segment's must be durable before the first lands in the new
		// one (staged records are ordered by the committer instead). In
		// NoSync mode this makes every sealed segment durable.
		if err := s.sealTo(s.written); err != nil {
			return &fatalError{err}
		}
	}
	f, seg, err := s.createSegment(s.written)
	if err != nil {
		return &fatalError{err}
	}
	old := s.active
	old.seg.end.Store(s.written) // sealed: its records end here
	// No more writes to the old segment: read-ahead helps its readers now.
	// Advised while the writer's reference still keeps the mapping open.
	old.file.Advise(0, int64(len(old.data)), mmapfile.AdviseNormal)
	list := append(segmentList(nil), *s.segs.Load()...)
	list = append(list, f)
	s.segs.Store(&list)
	s.syncMu.Lock()
	s.writing = append(s.writing, seg)
	s.releaseSyncedLocked() // the old segment, if sealTo synced it
	s.syncMu.Unlock()
	s.active = seg
	s.faultedTo = 0
	s.stats.rolls.Add(1)
	return nil
}

// replaceEmptyActiveLocked swaps the active segment, which holds no record
// yet, for a new one of the configured size at the same base. A batch
// needs that when it does not fit the active segment although it fits a
// segment of Options.SegmentSize: the store was reopened with larger
// segments. A second segment at the same base would replace the first's
// file under its name while both stayed in the list, and reads would find
// the old, empty mapping.
func (s *Store) replaceEmptyActiveLocked() error {
	list := append(segmentList(nil), *s.segs.Load()...)
	old := list[len(list)-1]
	if old != s.active.seg {
		return &fatalError{fmt.Errorf("spool: the active segment %s is not the newest in the list (%s)", s.active.name, old.name)}
	}
	f, seg, err := s.createSegment(s.written) // renamed over old's file
	if err != nil {
		return &fatalError{err}
	}
	list[len(list)-1] = f
	s.segs.Store(&list)
	s.syncMu.Lock()
	s.writing[len(s.writing)-1].release() // the active segment: nothing to sync
	s.writing[len(s.writing)-1] = seg
	s.syncMu.Unlock()
	s.active = seg
	s.faultedTo = 0
	old.retired.Store(true) // nobody maps its name again
	s.maps.drop(old)
	return nil
}

// putIndex records a stream's new head in the index; v is the caller's
// view for reading the records the index points at. at is the slot the
// lookup of the head found the stream in (hashindex.PutSlot): it saves the
// probe and the record read of the match, which cost as much as the rest
// of a NoSync append's index work.
func (s *Store) putIndex(v *readView, at hashindex.Slot, fp hashindex.Fingerprint, stream string, e hashindex.Entry) error {
	var r segment.Record
	// Index entries point at records in the file only: committed ones in
	// SyncEachCommit mode, written ones in the others.
	if err := s.index.PutSlot(at, fp, e, matchStream(v, stream, &r)); err != nil {
		return &fatalError{indexErr(err)}
	}
	if s.index.GrowthAhead() {
		s.askIndexGrowth()
	}
	return nil
}

// fatalError marks write-path errors that put the store into its failed
// state (as opposed to errors about the caller's input).
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func isFatal(err error) bool {
	switch err.(type) {
	case *fatalError, *mmapfile.FaultError:
		return true
	}
	// Corruption met while appending fails that append only: other streams
	// stay writable, and the damaged stream is never written on top of.
	return false
}
