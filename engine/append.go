package engine

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// streamHead is what an appender needs of a stream's newest record.
type streamHead struct {
	version         int64  // -1 when the stream has no events
	tail            uint64 // position of the newest record
	tailSkip        uint64 // its skip pointer
	tailSkipVersion uint64
}

var noStreamHead = streamHead{version: -1, tail: segment.NoPosition, tailSkip: segment.NoPosition}

// indexUpdate is an index change that waits for the msync of its record.
type indexUpdate struct {
	fp     hashindex.Fingerprint
	stream string
	entry  hashindex.Entry
}

// Append appends events to stream, atomically: after it returns without
// error all of them are in the log, and after a crash either all or none
// are. expected is the stream's current version, or Any, NoStream or
// StreamExists; on a mismatch the error is a *WrongExpectedVersionError.
//
// Retrying an append whose events (matched by non-zero event ID) already
// follow the expected version succeeds without writing them again, and
// returns where they are. In SyncEachCommit mode Append returns only after
// the msync covering its records; once its records are written it waits for
// that outcome even if ctx is cancelled, so that the result is never
// ambiguous.
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
	now := time.Now().UnixNano()

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return AppendResult{}, ErrClosed
	}
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return AppendResult{}, err
	}
	var (
		res  AppendResult
		wait uint64
	)
	err = mmapfile.Guard(func() error {
		defer s.writerView.close()
		var err error
		res, wait, err = s.appendLocked(stream, fp, expected, events, size, now)
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
	if err != nil {
		return AppendResult{}, err
	}
	return res, nil
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
	if !versionMatches(expected, head.version) {
		if expected >= NoStream && head.version > expected {
			res, end, ok, err := s.retriedLocked(stream, head, expected, events)
			if err != nil || ok {
				return res, end, err
			}
		}
		return AppendResult{}, 0, &WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: head.version}
	}

	if s.written+uint64(size) > s.active.limit() {
		if err := s.rollLocked(); err != nil {
			return AppendResult{}, 0, err
		}
	}
	seg := s.active
	pos := s.written
	var dst []byte
	if s.staging {
		mark := s.stageMarkLocked()
		defer func() {
			if err != nil { // nothing of a failed append may reach the file
				s.stageRollbackLocked(mark)
			}
		}()
		dst = s.stageLocked(seg, pos, size)
	} else {
		off := seg.offset(pos)
		dst = seg.data[off : off+size]
		defer func() {
			if err != nil { // the log end must still read as the end
				clear(dst[:min(segment.RecordHeaderSize, len(dst))])
			}
		}()
	}
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
		parent = streamHead{version: rec.Version, tail: pos, tailSkip: rec.Skip, tailSkipVersion: rec.SkipVersion}
		pos += uint64(n)
		dst = dst[n:]
	}
	if !s.staging {
		// The first bytes past the end must always read as "end"
		// (writeStaged does the same for staged records).
		off := seg.offset(pos)
		clear(seg.data[off:min(off+segment.RecordHeaderSize, int64(len(seg.data)))])
	}
	s.written = pos
	if !s.spareAsked && pos-seg.base > (seg.limit()-seg.base)/2 {
		s.askSpareLocked()
	}
	res.LastVersion = parent.version
	s.stats.appends.Add(1)
	s.stats.events.Add(uint64(len(events)))
	s.stats.bytes.Add(uint64(size))

	entry := hashindex.Entry{Tail: parent.tail, Version: parent.version, State: hashindex.Live}
	if s.opts.Durability == SyncEachCommit {
		// The index may only point at durable records: the flusher
		// applies this after the msync.
		s.pending[stream] = parent
		g := s.groupLocked()
		g.updates = append(g.updates, indexUpdate{fp: fp, stream: stream, entry: entry})
		return res, pos, nil
	}
	if err := s.putIndex(&s.writerView, fp, stream, entry); err != nil {
		return AppendResult{}, 0, err
	}
	s.publishCommitted(pos)
	return res, 0, nil
}

func versionMatches(expected, actual int64) bool {
	switch expected {
	case Any:
		return true
	case StreamExists:
		return actual >= 0
	}
	return expected == actual // NoStream is -1, the version of an empty stream
}

// headLocked returns the stream's newest record as appends see it: pending
// appends first, then the index.
func (s *Store) headLocked(stream string, fp hashindex.Fingerprint) (streamHead, error) {
	if h, ok := s.pending[stream]; ok {
		return h, nil
	}
	src := writerSource{s}
	r := &s.scan
	e, found, err := s.index.Lookup(fp, matchStream(src, stream, r))
	if err != nil || !found {
		return noStreamHead, indexErr(err)
	}
	if r.Version != e.Version {
		return noStreamHead, chainError(src, e.Tail, stream, e.Version, r)
	}
	return streamHead{version: e.Version, tail: e.Tail, tailSkip: r.Skip, tailSkipVersion: r.SkipVersion}, nil
}

// nextSkipLocked computes the skip pointer of the record following parent.
func (s *Store) nextSkipLocked(parent streamHead) (uint64, uint64, error) {
	p := segment.Record{Position: parent.tail, Version: parent.version, Skip: parent.tailSkip, SkipVersion: parent.tailSkipVersion}
	if p.Skip == segment.NoPosition {
		skip, v := segment.NextSkip(&p, nil)
		return skip, v, nil
	}
	j := &s.scan
	if err := readRecord(writerSource{s}, p.Skip, j); err != nil {
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
	if err := readStreamRecord(src, head.tail, stream, head.version, r); err != nil {
		return AppendResult{}, 0, false, err
	}
	if err := seekVersion(src, stream, r, last); err != nil {
		return AppendResult{}, 0, false, err
	}
	end := r.End()
	for i := len(events) - 1; ; i-- {
		if r.ID != events[i].ID {
			return AppendResult{}, 0, false, nil
		}
		if i == 0 {
			break
		}
		if err := readStreamRecord(src, r.Prev, stream, r.Version-1, r); err != nil {
			return AppendResult{}, 0, false, err
		}
	}
	return AppendResult{FirstVersion: first, LastVersion: last, Position: r.Position}, end, true, nil
}

// rollLocked seals the active segment and continues in a new one that
// starts where the log ends.
func (s *Store) rollLocked() error {
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
	list := append(segmentList(nil), *s.segs.Load()...)
	list = append(list, f)
	s.segs.Store(&list)
	s.syncMu.Lock()
	s.writing = append(s.writing, seg)
	s.releaseSyncedLocked() // the old segment, if sealTo synced it
	s.syncMu.Unlock()
	old := s.active
	s.active = seg
	// No more writes to the old segment: read-ahead helps its readers now.
	old.file.Advise(0, int64(len(old.data)), mmapfile.AdviseNormal)
	s.stats.rolls.Add(1)
	return nil
}

// putIndex records a stream's new head in the index; v is the caller's
// view for reading the records the index points at.
func (s *Store) putIndex(v *readView, fp hashindex.Fingerprint, stream string, e hashindex.Entry) error {
	var r segment.Record
	// Index entries point at records in the file only: committed ones in
	// SyncEachCommit mode, written ones in the others.
	if err := s.index.Put(fp, e, matchStream(v, stream, &r)); err != nil {
		return &fatalError{indexErr(err)}
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
