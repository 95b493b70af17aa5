package engine

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// DeleteStream soft-deletes stream: it reads as not found from then on
// (ReadStream yields nothing, StreamVersion returns NoStream, log reads
// skip its events), and compaction reclaims the space of its events. It
// sets the stream's TruncateBefore past its newest event; appending to the
// stream again (expected NoStream or Any) revives it, its versions
// continuing after the old ones, which stay hidden.
//
// expected is checked like Append's. Deleting a stream that has no events
// succeeds. Durable like an append of one event in the store's mode.
func (s *Store) DeleteStream(ctx context.Context, stream string, expected int64) error {
	return s.writeSystem(ctx, stream, expected, segment.FlagDeleted, func(h *streamHead) StreamMetadata {
		md := h.meta.md
		md.TruncateBefore = max(md.TruncateBefore, h.version+1)
		return md
	})
}

// TombstoneStream hard-deletes stream: every later append to it, read of it
// and change of it fails with ErrStreamDeleted, forever, also after
// compaction removed its events. expected is checked like Append's.
func (s *Store) TombstoneStream(ctx context.Context, stream string, expected int64) error {
	return s.writeSystem(ctx, stream, expected, segment.FlagTombstone, func(h *streamHead) StreamMetadata {
		return h.meta.md
	})
}

// SetStreamMetadata replaces stream's retention with md: what md hides is
// gone for readers as soon as it returns. Hiding is for good: what the old
// retention hid stays hidden, the stream's TruncateBefore raised past it
// (compaction may have removed it), so StreamMetadata may return a higher
// TruncateBefore than md's. The other fields are replaced as given: read
// them with StreamMetadata first to change one. Durable like an append.
func (s *Store) SetStreamMetadata(ctx context.Context, stream string, md StreamMetadata) error {
	if err := md.Validate(); err != nil {
		return err
	}
	return s.writeSystem(ctx, stream, Any, 0, func(*streamHead) StreamMetadata { return md })
}

// StreamMetadata returns stream's committed retention (the zero value when
// it has none); ErrStreamDeleted for a tombstoned stream.
func (s *Store) StreamMetadata(stream string) (StreamMetadata, error) {
	if err := checkStreamID(stream); err != nil {
		return StreamMetadata{}, err
	}
	if err := s.usable(); err != nil {
		return StreamMetadata{}, err
	}
	m, ok, err := s.meta.get(stream)
	if err != nil || !ok {
		return StreamMetadata{}, err
	}
	if m.tombstoned {
		return m.md, fmt.Errorf("%w: %q", ErrStreamDeleted, stream)
	}
	return m.md, nil
}

func checkStreamID(stream string) error {
	if len(stream) == 0 || len(stream) > MaxStreamIDLen {
		return fmt.Errorf("%w: %d bytes (1 to %d allowed)", ErrInvalidStreamID, len(stream), MaxStreamIDLen)
	}
	return nil
}

// writeSystem appends a system record to stream (see metadata.go) whose
// metadata md computes from the stream's head, and waits for it like
// Append waits for events.
func (s *Store) writeSystem(ctx context.Context, stream string, expected int64, flag segment.Flags, md func(*streamHead) StreamMetadata) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.usable(); err != nil {
		return err
	}
	if err := checkStreamID(stream); err != nil {
		return err
	}
	if expected < 0 && expected != Any && expected != NoStream && expected != StreamExists {
		return fmt.Errorf("%w: %d", ErrInvalidExpectedVersion, expected)
	}
	fp := hashindex.FingerprintString(stream)
	now := stampClock()

	return s.write(func() (uint64, error) {
		return s.systemLocked(stream, fp, expected, flag, md, now)
	})
}

// cutoffLocked is the lowest version of the stream at head that its
// current retention lets readers see at time now.
func (s *Store) cutoffLocked(stream string, head *streamHead, now int64) (int64, error) {
	lo := head.meta.cutoff(head.version)
	if head.meta.md.MaxAge <= 0 || lo > head.version {
		return lo, nil
	}
	src := writerSource{s}
	var top segment.Record
	if err := readStreamRecord(src, head.tail, stream, head.version, &top); err != nil {
		return 0, err
	}
	// The search seeks O(log n) times: top's segment (the view's last)
	// stays while it does.
	var cut int64
	err := s.writerWalk(s.writerView.last, func() (err error) {
		cut, err = ageCutoff(src, stream, &top, lo, &head.meta, now)
		return err
	})
	return cut, err
}

// systemLocked checks the expected version and writes the system record.
func (s *Store) systemLocked(stream string, fp hashindex.Fingerprint, expected int64, flag segment.Flags, mdFor func(*streamHead) StreamMetadata, now int64) (_ uint64, err error) {
	head, err := s.headLocked(stream, fp)
	if err != nil {
		return 0, err
	}
	if ok, err := s.expectLocked(stream, &head, expected); !ok {
		if err == nil {
			err = &WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: head.visibleVersion()}
		}
		return 0, err
	}
	now = s.stampLocked(now, &head)
	md := mdFor(&head)
	if head.hasMeta && head.version >= 0 {
		// What the old retention hides stays hidden: compaction may have
		// removed it already. The new TruncateBefore records it.
		cut, err := s.cutoffLocked(stream, &head, now)
		if err != nil {
			return 0, err
		}
		md.TruncateBefore = max(md.TruncateBefore, cut)
	}
	if floor, ok := s.floors[stream]; ok {
		// A compaction running now may remove the events below floor.
		md.TruncateBefore = max(md.TruncateBefore, floor)
	}
	if s.touched != nil {
		s.touched[stream] = struct{}{}
	}
	typ := typeMetadata
	switch flag {
	case segment.FlagDeleted:
		typ = typeDeleted
	case segment.FlagTombstone:
		typ = typeTombstone
	}
	if err := s.roomForLocked(&head); err != nil {
		return 0, err
	}
	data := encodeMetadata(md)
	size := int64(segment.EncodedLen(len(stream), len(typ), 0, len(data)))
	w, err := s.reserveLocked(size)
	if err != nil {
		return 0, err
	}
	defer func() { w.undoUnless(err == nil) }()
	rec := segment.Record{
		Flags:         segment.FlagMetadata | flag,
		Position:      w.pos,
		Prev:          segment.NoPosition,
		Skip:          segment.NoPosition,
		Version:       head.version + 1,
		Timestamp:     now,
		SyncedThrough: s.durable(),
		Stream:        unsafe.Slice(unsafe.StringData(stream), len(stream)),
		Type:          []byte(typ),
		Data:          data,
	}
	if head.hasMeta {
		rec.Prev = head.meta.sys
	}
	n, err := segment.Encode(w.dst, &rec)
	if err != nil {
		return 0, err
	}
	end := w.pos + uint64(n)
	s.wroteLocked(w, w.pos, end)
	s.stats.appends.Add(1)
	s.stats.bytes.Add(uint64(size))

	head.hasMeta = true
	head.meta = streamMeta{md: md, tombstoned: flag == segment.FlagTombstone, deleted: flag == segment.FlagDeleted, sys: w.pos, last: head.version}
	u := indexUpdate{fp: fp, stream: stream, entry: head.entry(), slot: head.slot, system: true, meta: head.meta}
	return s.headChangedLocked(stream, head, u, end)
}
