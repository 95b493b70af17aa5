package engine

import (
	"errors"
	"fmt"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// recordSource finds the bytes holding a log position: through a readView
// (which holds the segment mappings it reaches until it lets go), or from
// the stage first (writerSource).
type recordSource interface {
	locate(pos uint64) (recordLoc, error)
	// hasRetention reports whether stream has system records (see
	// metaTable): only then may compaction have removed records of it.
	hasRetention(stream string) bool
}

// recordLoc is where a record lives: data[off:] starts with it; name is
// the file, for errors.
type recordLoc struct {
	data []byte
	off  int64
	name string
}

func segmentLoc(m *mappedSegment, pos uint64) (recordLoc, error) {
	off, ok := m.find(pos)
	if !ok {
		return recordLoc{}, &removedError{pos: pos, segment: m.name}
	}
	return recordLoc{data: m.data, off: off, name: m.name}, nil
}

// removedError says that no record starts at a position of a compacted
// segment's range: compaction removed it (retention hid it), or the
// position never was a record's. Readers that follow pointers take it to
// mean that the stream's retained part ends there.
type removedError struct {
	pos     uint64
	segment string
	version int64 // the stream version looked for there, -1 if none
}

func (e *removedError) Error() string {
	return fmt.Sprintf("spool: no record at log position %d of compacted segment %s (removed by compaction)", e.pos, e.segment)
}

// removedVersion reports whether err is a removedError, and the stream
// version that was looked for (-1 if none).
func removedVersion(err error) (int64, bool) {
	var re *removedError
	if !errors.As(err, &re) {
		return 0, false
	}
	return re.version, true
}

func (v *readView) segmentAt(pos uint64) (*mappedSegment, error) {
	m, err := v.get(pos)
	switch {
	case err != nil:
		return nil, err
	case m != nil:
		return m, nil
	case v.closed():
		return nil, ErrClosed
	}
	return nil, noSegmentError(pos)
}

func (v *readView) locate(pos uint64) (recordLoc, error) {
	m, err := v.segmentAt(pos)
	if err != nil {
		return recordLoc{}, err
	}
	return segmentLoc(m, pos)
}

func (v *readView) hasRetention(stream string) bool { return v.s.meta.has(stream) }

func noSegmentError(pos uint64) error {
	return &CorruptionError{Segment: "(none)", Offset: int64(pos), Reason: fmt.Sprintf("log position %d lies in no segment", pos)}
}

// readRecord decodes and verifies the record at pos into r.
func readRecord(src recordSource, pos uint64, r *segment.Record) error {
	loc, err := src.locate(pos)
	if err != nil {
		return err
	}
	_, err = segment.Decode(loc.data, loc.off, pos, r)
	return segment.WithSegment(err, loc.name)
}

// readStreamRecord reads the record at pos and checks that it is version
// of stream: every step along a chain is checked this way.
func readStreamRecord(src recordSource, pos uint64, stream string, version int64, r *segment.Record) error {
	if pos == segment.NoPosition {
		return &CorruptionError{Segment: "(chain)", Offset: -1, Reason: fmt.Sprintf("stream %q: chain ends before version %d", stream, version)}
	}
	if err := readRecord(src, pos, r); err != nil {
		if re, ok := err.(*removedError); ok {
			if !src.hasRetention(stream) {
				// Compaction keeps every record of such a stream (see
				// metaTable.has).
				return &CorruptionError{Segment: re.segment, Offset: -1, Reason: fmt.Sprintf(
					"stream %q: version %d at log position %d is missing from the compacted segment, but the stream has no retention that could have removed it",
					stream, version, pos)}
			}
			re.version = version
		}
		return err
	}
	if r.Version != version || string(r.Stream) != stream {
		return chainError(src, pos, stream, version, r)
	}
	return nil
}

// chainError reports a record that is not the one a chain promised.
func chainError(src recordSource, pos uint64, stream string, version int64, r *segment.Record) error {
	name, off := "(none)", int64(pos)
	if loc, err := src.locate(pos); err == nil {
		name, off = loc.name, loc.off
	}
	return &CorruptionError{Segment: name, Offset: off, Reason: fmt.Sprintf(
		"chain of stream %q leads to %q version %d where version %d was expected", stream, r.Stream, r.Version, version)}
}

// seekVersion moves r, a record of stream, back to the stream's record of
// version target (<= r.Version) in O(log n) steps using skip pointers.
func seekVersion(src recordSource, stream string, r *segment.Record, target int64) error {
	for r.Version > target {
		next, want := r.Prev, r.Version-1
		if r.Skip != segment.NoPosition && int64(r.SkipVersion) >= target {
			next, want = r.Skip, int64(r.SkipVersion)
		}
		if err := readStreamRecord(src, next, stream, want, r); err != nil {
			return err
		}
	}
	return nil
}

// matchStream is the index's check that a fingerprint match really is
// stream: it reads the record the slot points at into r.
func matchStream(src recordSource, stream string, r *segment.Record) hashindex.MatchFunc {
	return func(e hashindex.Entry) (bool, error) {
		if err := readRecord(src, e.Tail, r); err != nil {
			return false, err
		}
		return string(r.Stream) == stream, nil
	}
}

// insideKept returns an error when pos, a position of a compacted segment
// that no kept record starts at, lies inside a kept record.
func insideKept(v *readView, pos uint64) error {
	m, err := v.segmentAt(pos)
	if err != nil {
		return err
	}
	i := m.pmap.Search(pos)
	if i == 0 {
		return nil
	}
	prev, off := m.pmap.At(i - 1)
	var r segment.Record
	n, err := segment.Peek(m.data, off, prev, &r)
	if err != nil {
		return segment.WithSegment(err, m.name)
	}
	if pos < prev+uint64(n) {
		return fmt.Errorf("inside the record at %d", prev)
	}
	return nil
}
