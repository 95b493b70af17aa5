package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// ReadAll reads the whole log in commit order, starting at log position
// from (0 for the beginning, or the Position of an event read earlier). It
// is a snapshot: it ends at the log end as of its start. A position that is
// not the start of a record, or lies past the end, yields ErrInvalidPosition.
//
// Data and Metadata of the events alias mapped memory and are valid only
// during the loop iteration that received them.
func (s *Store) ReadAll(from uint64) iter.Seq2[RecordedEvent, error] {
	return s.ReadAllFiltered(from, nil)
}

// ReadAllFiltered is ReadAll returning only the events f keeps (all for a
// nil f). Positions of the events returned resume the read as usual.
func (s *Store) ReadAllFiltered(from uint64, f *Filter) iter.Seq2[RecordedEvent, error] {
	return func(yield func(RecordedEvent, error) bool) {
		lr := logReader{s: s, view: readView{s: s}, filter: f, meta: metaView{s: s, t: &s.meta}}
		defer lr.view.close()
		if err := lr.start(from); err != nil {
			yield(RecordedEvent{}, err)
			return
		}
		lr.drain(context.Background(), yield)
	}
}

// drain yields the events up to the snapshot. It returns false when the
// iteration is over: the caller stopped it, or an error was yielded. A
// subscriber's ctx is checked before every chunk: one that is behind, even
// forever, still ends soon after ctx does.
func (lr *logReader) drain(ctx context.Context, yield func(RecordedEvent, error) bool) bool {
	for lr.pos < lr.snapshot {
		if ctx.Err() != nil {
			yield(RecordedEvent{}, ctx.Err())
			return false
		}
		n, err := lr.fill()
		for i := range n {
			if !yield(lr.event(i), nil) {
				return false
			}
		}
		if err != nil {
			yield(RecordedEvent{}, err)
			return false
		}
	}
	return true
}

// logReader is one ReadAll iteration.
type logReader struct {
	s        *Store
	view     readView
	snapshot uint64
	pos      uint64
	seg      *mappedSegment
	segEnd   uint64 // where seg's data ends: the next segment's base
	buf      [readChunk]segment.Record
	// streams and types hold buf's stream IDs and event types as strings,
	// taken under the fault guard: the records' fields alias the mapping,
	// and the events handed out must not touch it outside the guard.
	streams, types [readChunk]string
	filter         *Filter
	key            segment.Key // of the record being looked at
	peeked         segment.Record
	header         EventHeader // scratch for filter.Match
	meta           metaView    // the retention of streams that have one
	stream         lastName    // the last stream ID handed out
	typ            lastName    // the last event type handed out
	// In a compacted segment (mapSeg), the position map index of the
	// record after the one ending at mapPos: saves a search per record.
	mapSeg  *mappedSegment
	mapNext int
	mapPos  uint64
}

// start checks from and takes the snapshot.
func (lr *logReader) start(from uint64) error {
	s := lr.s
	s.lifeMu.RLock()
	defer s.lifeMu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	lr.snapshot = s.committed.Load()
	lr.pos = from
	if from > lr.snapshot {
		return fmt.Errorf("%w: %d is past the end of the log (%d)", ErrInvalidPosition, from, lr.snapshot)
	}
	if from == lr.snapshot {
		return nil
	}
	var r segment.Record
	err := mmapfile.Guard(func() error { return readRecord(&lr.view, from, &r) })
	switch err.(type) {
	case nil:
		return nil
	case *removedError:
		// In a compacted segment: a position saved before compaction
		// removed its record; the read goes on at the next record kept.
		// One inside a record that is still there never was a start.
		if err := mmapfile.Guard(func() error { return insideKept(&lr.view, from) }); err != nil {
			return fmt.Errorf("%w: %d is not the start of a record (%w)", ErrInvalidPosition, from, err)
		}
		return nil
	case *mmapfile.FaultError:
		return s.fail(err)
	}
	if !errors.Is(err, ErrCorrupt) {
		return err // a segment that could not be mapped, say: the position may be good
	}
	var start, known bool
	if gerr := mmapfile.Guard(func() (err error) {
		start, known, err = lr.recordStartsAt(from)
		return err
	}); gerr != nil {
		if _, ok := gerr.(*mmapfile.FaultError); ok {
			return s.fail(gerr)
		}
		return gerr
	}
	switch {
	case !known:
		return fmt.Errorf("%w: %d is not the start of a record, or the record there is damaged (%w)", ErrInvalidPosition, from, err)
	case start:
		return err // damage, not a bad position: a saved position must not be given up for it
	}
	return fmt.Errorf("%w: %d is not the start of a record (%v)", ErrInvalidPosition, from, err)
}

// recordStartsAt tells whether a record starts at pos, whose record did not
// decode: known is false when that cannot be told. A caller that saved pos
// (a subscriber's checkpoint) must learn whether the record there is
// damaged (ErrCorrupt) or pos never was a record's (ErrInvalidPosition):
// one gives up its position on the second, never on the first. A
// compacted segment's map lists every record start; an ordinary segment's
// records are walked from its first by their size fields alone (without
// checksums, so the walk costs a fraction of a read), which damage before
// pos stops.
func (lr *logReader) recordStartsAt(pos uint64) (start, known bool, err error) {
	m, err := lr.view.segmentAt(pos)
	if err != nil {
		return false, false, err
	}
	if m.seg.compacted {
		_, start = m.pmap.Find(pos)
		return start, true, nil
	}
	var r segment.Record
	at, off := m.base, int64(segment.HeaderSize)
	for at < pos {
		n, err := segment.Peek(m.data, off, at, &r)
		if err != nil {
			return false, false, nil
		}
		at += uint64(n)
		off += int64(n)
	}
	return at == pos, true, nil
}

// advance moves the snapshot on to next, a later committed position. The
// segment being read may have been the newest, its end then taken to be its
// limit; if the log has rolled since, the next segment begins earlier.
func (lr *logReader) advance(next uint64) {
	lr.snapshot = next
	if lr.seg != nil {
		lr.segEnd = lr.s.segmentEnd(lr.seg)
	}
}

// fill decodes the next chunk of records into buf. A chunk never spans
// segments, so that the segment behind the previous chunk can be released.
func (lr *logReader) fill() (int, error) {
	n := 0
	err := mmapfile.Guard(func() error {
		if lr.seg == nil || lr.pos >= lr.segEnd {
			seg, err := lr.view.segmentAt(lr.pos)
			if err != nil {
				return err
			}
			lr.view.releaseExcept(seg)
			lr.seg, lr.segEnd = seg, lr.s.segmentEnd(seg)
		}
		seg := lr.seg
		for n < readChunk && lr.pos < lr.snapshot && lr.pos < lr.segEnd {
			off, ok, err := lr.next(seg)
			if err != nil || !ok {
				return err // !ok: past the last record of a compacted segment
			}
			if lr.filter != nil {
				// Skip from the key (and header) when the filter can:
				// most of a selective scan's records are never decoded.
				m, err := segment.PeekKey(seg.data, off, lr.pos, &lr.key)
				if err != nil {
					return segment.WithSegment(err, seg.name)
				}
				skip := !visible(lr.key.Flags) || !lr.filter.keepsKey(&lr.key)
				if !skip && lr.filter.needsHeader() {
					if _, err := segment.Peek(seg.data, off, lr.pos, &lr.peeked); err != nil {
						return segment.WithSegment(err, seg.name)
					}
					skip = !lr.filter.keepsHeader(&lr.peeked, &lr.header)
				}
				if skip {
					lr.pos += uint64(m)
					lr.mapPos = lr.pos
					continue
				}
			}
			r := &lr.buf[n]
			m, err := segment.Decode(seg.data, off, lr.pos, r)
			if err != nil {
				return segment.WithSegment(err, seg.name)
			}
			lr.pos += uint64(m)
			lr.mapPos = lr.pos
			if testHookDecoded != nil {
				testHookDecoded()
			}
			if visible(r.Flags) {
				lr.streams[n] = lr.stream.get(&lr.s.names, r.Stream)
				lr.types[n] = lr.typ.get(&lr.s.names, r.Type)
				n++
			}
		}
		return nil
	})
	if _, ok := err.(*mmapfile.FaultError); ok {
		err = lr.s.fail(err)
	}
	kept, rerr := lr.retained(n)
	if rerr != nil {
		err = rerr // it concerns an earlier record than err
	}
	return kept, err
}

// testHookDecoded, when set, runs after fill decodes each record.
var testHookDecoded func()

// retained drops the events of buf[:n] that their streams' retention
// hides, and returns how many are left. It stops at an event of a stream
// whose retention is unknown (metaTable.damaged), returning the events
// before it and the damage. The metadata table's read lock is
// taken for the whole chunk, but only here, after the decoding: that may
// fault pages in from the disk, and appends to streams with metadata wait
// for the write lock (in NoSync mode holding the writer's lock, so every
// append would wait for a reader catching up).
func (lr *logReader) retained(n int) (int, error) {
	lr.meta.lock()
	defer lr.meta.unlock()
	if !lr.meta.locked {
		return n, nil // no stream has metadata
	}
	kept := 0
	for i := range n {
		r := &lr.buf[i]
		shows, err := lr.meta.shows(lr.streams[i], r.Version, r.Timestamp)
		if err != nil {
			return kept, err
		}
		if !shows {
			continue
		}
		if kept != i {
			lr.buf[kept], lr.streams[kept], lr.types[kept] = *r, lr.streams[i], lr.types[i]
		}
		kept++
	}
	return kept, nil
}

// next returns the file offset of the record at lr.pos in seg, checking
// that the log does not end there. In a compacted segment it is the next
// record kept at or after lr.pos, and lr.pos moves there; false when none
// is left before the segment's end or the snapshot, lr.pos then at the
// nearer of the two.
func (lr *logReader) next(seg *mappedSegment) (int64, bool, error) {
	if !seg.seg.compacted {
		off := seg.offset(lr.pos)
		if segment.IsEnd(seg.data[off:]) {
			return 0, false, &CorruptionError{Segment: seg.name, Offset: off, Reason: fmt.Sprintf(
				"log ends at position %d, before the committed position %d", lr.pos, lr.snapshot)}
		}
		return off, true, nil
	}
	i := lr.mapNext
	if lr.mapSeg != seg || lr.mapPos != lr.pos {
		i = seg.pmap.Search(lr.pos)
	}
	if i >= seg.pmap.Len() {
		lr.pos = min(lr.segEnd, lr.snapshot)
		return 0, false, nil
	}
	pos, off := seg.pmap.At(i)
	if pos >= lr.snapshot {
		// Compaction ran after the snapshot was taken: the records it
		// removed before the snapshot end lead to one committed after.
		lr.pos = lr.snapshot
		return 0, false, nil
	}
	lr.pos = pos
	lr.mapSeg, lr.mapNext = seg, i+1 // valid once lr.pos moves past it
	return off, true, nil
}

// visible reports whether log reads deliver a record with these flags at
// all, whatever their filter: this is where ReadAll and Subscribe leave
// out what is not an event. Records that carry stream metadata, deletes or
// tombstones are the store's own bookkeeping. The retention that hides
// events of deleted, tombstoned or expired streams is metaView.shows,
// applied next to it.
func visible(f segment.Flags) bool {
	return f&systemFlags == 0
}

// systemFlags mark records that are not events.
const systemFlags = segment.FlagMetadata | segment.FlagDeleted | segment.FlagTombstone

// event is the event of buf[i]. It reads no mapped byte: Data and Metadata
// alias the mapping, and the caller reads them.
func (lr *logReader) event(i int) RecordedEvent {
	r := &lr.buf[i]
	return RecordedEvent{
		Stream:   lr.streams[i],
		Version:  r.Version,
		Position: r.Position,
		Next:     r.End(),
		Time:     time.Unix(0, r.Timestamp),
		ID:       r.ID,
		Type:     lr.types[i],
		Data:     nilIfEmpty(r.Data),
		Metadata: nilIfEmpty(r.Metadata),
	}
}
