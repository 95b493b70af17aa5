package engine

import (
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// readChunk is how many records a reader decodes, under one fault guard,
// before handing them to the caller; it also bounds a forward read's
// buffer.
const readChunk = 128

// ReadStream reads one stream's events. Backward starts at version from
// (End for the newest) and goes to version 0; Forward starts at version
// from and goes to the newest. The read is a snapshot: it sees the events
// committed when it started and none committed later. A stream that does
// not exist, or was deleted, reads as empty; a tombstoned one yields
// ErrStreamDeleted. The stream's retention (StreamMetadata) hides events
// below its TruncateBefore, beyond its MaxCount and past its MaxAge.
//
// A backward read touches only the records it returns; a forward read from
// version v of an n-event stream first seeks in O(log n) records (skip
// pointers), then reads in chunks. Every record is verified (checksum,
// position, stream and version) before it is returned.
//
// Data and Metadata of the events alias mapped memory and are valid only
// during the loop iteration that received them.
func (s *Store) ReadStream(stream string, from int64, dir Direction) iter.Seq2[RecordedEvent, error] {
	return func(yield func(RecordedEvent, error) bool) {
		if len(stream) == 0 || len(stream) > MaxStreamIDLen {
			yield(RecordedEvent{}, fmt.Errorf("%w: %d bytes", ErrInvalidStreamID, len(stream)))
			return
		}
		if dir != Forward && dir != Backward {
			yield(RecordedEvent{}, fmt.Errorf("%w: direction %d", ErrInvalidRead, int(dir)))
			return
		}
		if from < 0 && !(from == End && dir == Backward) {
			yield(RecordedEvent{}, fmt.Errorf("%w: start version %d for a %v read", ErrInvalidRead, from, dir))
			return
		}
		sr := getStreamReader(s, stream)
		defer sr.release()
		top, found, err := sr.start()
		if err != nil || !found || top.Version < sr.lo {
			if err != nil {
				yield(RecordedEvent{}, err)
			}
			return
		}
		if dir == Backward {
			sr.backward(top, from, yield)
		} else {
			sr.forward(top, from, yield)
		}
	}
}

// streamReader is one ReadStream iteration.
type streamReader struct {
	s      *Store
	view   readView
	stream string
	buf    [readChunk]segment.Record
	// typeNames holds buf's event types as strings, taken under the fault
	// guard: the records' fields alias the mapping, and the events handed
	// out must not touch it outside the guard.
	typeNames [readChunk]string
	types     lastName // the last event type handed out
	// maxHeld bounds the segments a chunk's records may span (the view
	// holds them all until the chunk is yielded): a chunk ends early
	// rather than map more.
	maxHeld int
	// lo is the lowest version the read may return: the stream's
	// retention hides the rest (0 for a stream without metadata).
	lo int64
	// meta, when hasMeta, is the stream's retention; MaxAge is checked
	// per event against now.
	meta    streamMeta
	hasMeta bool
	now     int64
	// topSeg is the segment of the snapshot's newest event (start's top),
	// whose fields alias it: the view holds it while the read needs top.
	topSeg *mappedSegment
}

// readSegments is how many segments one reader's chunk may span: a
// quarter of what the mapped-bytes cap holds, at least 4.
func (s *Store) readSegments() int {
	return int(max(4, min(s.opts.MaxMappedBytes/s.opts.SegmentSize/4, readChunk)))
}

// streamReaders recycles streamReaders: their record buffer is ~20 KB, too
// much to allocate for every read of a short stream.
var streamReaders = sync.Pool{New: func() any { return new(streamReader) }}

func getStreamReader(s *Store, stream string) *streamReader {
	sr := streamReaders.Get().(*streamReader)
	sr.s, sr.stream, sr.maxHeld = s, stream, s.readSegments()
	sr.view = readView{s: s, held: sr.view.held[:0]}
	sr.lo, sr.meta, sr.hasMeta, sr.topSeg = 0, streamMeta{}, false, nil
	return sr
}

// release drops the reader's segment references and recycles it. The
// records in buf point into mappings, not the heap, so they pin nothing.
func (sr *streamReader) release() {
	sr.view.close()
	sr.view.s, sr.view.last, sr.topSeg = nil, nil, nil
	sr.s, sr.stream = nil, ""
	streamReaders.Put(sr)
}

// start finds the stream's newest event in the read's snapshot (found
// false when it has none), and the lowest version its retention lets the
// read return (sr.lo). A tombstoned stream is ErrStreamDeleted.
//
// The index leads to the stream's newest event, which may have been
// committed after the snapshot; start walks back from it. A compaction
// that finishes meanwhile may have removed the snapshot's newest event: a
// later event put it beyond the stream's retention. The stream has events
// all along, so start then takes a new snapshot and looks again, rather
// than report it empty.
func (sr *streamReader) start() (top segment.Record, found bool, err error) {
	s := sr.s
	s.lifeMu.RLock()
	defer s.lifeMu.RUnlock()
	if err := s.usable(); err != nil {
		return top, false, err
	}
	sr.view.walk = true // only top's segment stays held
	defer func() { sr.view.walk = false }()
	for range maxStartAttempts {
		var overtaken bool
		if top, found, overtaken, err = sr.startAt(s.committed.Load()); !overtaken {
			return top, found, err
		}
	}
	return top, false, fmt.Errorf("%w: stream %q, %d times", errOvertaken, sr.stream, maxStartAttempts)
}

// maxStartAttempts bounds start's new looks. Each one that fails needs a
// whole compaction run, checkpoint included, to finish between taking the
// snapshot and walking back a few records.
const maxStartAttempts = 100

// startAt is one attempt of start, with the given snapshot. overtaken
// reports that compaction removed the snapshot's newest event meanwhile.
func (sr *streamReader) startAt(snapshot uint64) (top segment.Record, found, overtaken bool, err error) {
	s := sr.s
	if testHookStartSnapshot != nil {
		testHookStartSnapshot()
	}
	sr.lo, sr.meta, sr.hasMeta = 0, streamMeta{}, false
	err = sr.guard(func() error {
		e, ok, err := s.index.Lookup(hashindex.FingerprintString(sr.stream), matchStream(&sr.view, sr.stream, &top))
		if err != nil || !ok {
			return indexErr(err)
		}
		if e.Aux != 0 {
			sr.meta, sr.hasMeta, err = s.meta.get(sr.stream)
			if err != nil {
				return err
			}
			if sr.hasMeta && sr.meta.tombstoned {
				return fmt.Errorf("%w: %q", ErrStreamDeleted, sr.stream)
			}
		}
		if e.Version < 0 {
			return nil // only system records
		}
		if top.Version != e.Version || isSystem(top.Flags) {
			return chainError(&sr.view, e.Tail, sr.stream, e.Version, &top)
		}
		// Skip what was committed after the snapshot was taken.
		for top.Position >= snapshot {
			if top.Prev == segment.NoPosition {
				return nil
			}
			if err := readStreamRecord(&sr.view, top.Prev, sr.stream, top.Version-1, &top); err != nil {
				if _, removed := removedVersion(err); removed {
					overtaken = true
					return nil
				}
				return err
			}
		}
		found = true
		// Taken before the age search below moves the view's last
		// segment on: the search pins it, forward keeps it.
		sr.topSeg = sr.view.last
		if sr.hasMeta {
			sr.now = s.readNow()
			// top's segment stays held while the search seeks.
			sr.view.pin = sr.topSeg
			defer func() { sr.view.pin = nil }()
			sr.lo, err = ageCutoff(&sr.view, sr.stream, &top, sr.meta.cutoff(top.Version), &sr.meta, sr.now)
		}
		return err
	})
	return top, found, overtaken, err
}

// testHookStartSnapshot, when set, runs in start right after the read's
// snapshot is taken.
var testHookStartSnapshot func()

// visible reports whether the stream, whose newest event in the read's
// snapshot is top, reads as existing: not deleted, or appended to since.
func (sr *streamReader) visible(top *segment.Record) bool {
	return !sr.hasMeta || top.Version >= sr.meta.md.TruncateBefore
}

// hidden reports whether retention hides r, which is not below lo, by age.
func (sr *streamReader) hidden(r *segment.Record) bool {
	return sr.hasMeta && sr.meta.expired(r.Timestamp, sr.now)
}

// guard runs fn under the fault guard; a fault fails the store.
func (sr *streamReader) guard(fn func() error) error {
	err := mmapfile.Guard(fn)
	if _, ok := err.(*mmapfile.FaultError); ok {
		return sr.s.fail(err)
	}
	return err
}

func (sr *streamReader) backward(r segment.Record, from int64, yield func(RecordedEvent, error) bool) {
	if from != End && from < sr.lo {
		return // below what retention lets the read see
	}
	if from != End && from < r.Version {
		if err := sr.seek(&r, from, nil); err != nil {
			if _, removed := removedVersion(err); !removed {
				yield(RecordedEvent{}, err)
			}
			return
		}
	}
	// ended: the next record back was removed by compaction: retention
	// hides it and everything before it.
	ended := false
	for {
		n := 0
		err := sr.guard(func() error {
			for n < readChunk {
				sr.buf[n], sr.typeNames[n] = r, sr.types.get(&sr.s.names, r.Type)
				n++
				if r.Version <= sr.lo {
					return nil
				}
				if err := readStreamRecord(&sr.view, r.Prev, sr.stream, r.Version-1, &r); err != nil {
					if _, removed := removedVersion(err); removed {
						ended = true
						return nil
					}
					return err
				}
				if len(sr.view.held) > sr.maxHeld {
					return nil // r, in a segment too many, opens the next chunk
				}
			}
			return nil
		})
		for i := range n {
			if !sr.hidden(&sr.buf[i]) && !yield(sr.event(i), nil) {
				return
			}
		}
		if err != nil {
			yield(RecordedEvent{}, err)
			return
		}
		if ended || sr.buf[n-1].Version <= sr.lo {
			return
		}
		// The chunk's events are gone: keep only the segment of r, the
		// next one's record, so that a long walk holds few mappings.
		sr.view.releaseExcept(sr.view.last)
	}
}

func (sr *streamReader) forward(top segment.Record, from int64, yield func(RecordedEvent, error) bool) {
	// Each chunk seeks from top, whose fields alias its segment: that one
	// stays held throughout.
	topSeg := sr.topSeg
	last := top.Version
	size := int64(readChunk)
	for lo := max(from, sr.lo); lo <= last; {
		hi := min(last, lo+size-1)
		n := int(hi - lo + 1)
		spread := false
		err := sr.guard(func() error {
			r := top
			if err := sr.seekGuarded(&r, hi, topSeg); err != nil {
				return err
			}
			for i := n - 1; ; i-- {
				sr.buf[i], sr.typeNames[i] = r, sr.types.get(&sr.s.names, r.Type)
				if i == 0 {
					return nil
				}
				if err := readStreamRecord(&sr.view, r.Prev, sr.stream, r.Version-1, &r); err != nil {
					return err
				}
				if len(sr.view.held) > sr.maxHeld+1 && n > 1 {
					spread = true // the chunk spans too many segments
					return nil
				}
			}
		})
		if v, removed := removedVersion(err); removed {
			// Compaction removed version v meanwhile: retention hides it
			// and everything before it now. Go on after it.
			sr.view.releaseExcept(topSeg)
			lo = max(lo, v+1)
			continue
		}
		if err != nil {
			yield(RecordedEvent{}, err)
			return
		}
		if spread {
			// Try half as many events; one event always fits.
			sr.view.releaseExcept(topSeg)
			size = int64(n / 2)
			continue
		}
		for i := range n {
			if !sr.hidden(&sr.buf[i]) && !yield(sr.event(i), nil) {
				return
			}
		}
		sr.view.releaseExcept(topSeg)
		size = min(2*size, readChunk)
		lo = hi + 1
	}
}

// seek moves r back to version target (see seekVersion) under the fault
// guard; pin is a segment the read must keep.
func (sr *streamReader) seek(r *segment.Record, target int64, pin *mappedSegment) error {
	return sr.guard(func() error { return sr.seekGuarded(r, target, pin) })
}

// seekGuarded is seek for callers already under the guard. The steps of a
// seek need only the newest record, so the view holds only its segment
// (and pin) as it goes.
func (sr *streamReader) seekGuarded(r *segment.Record, target int64, pin *mappedSegment) error {
	if r.Version <= target {
		return nil
	}
	sr.view.walk, sr.view.pin = true, pin
	defer func() { sr.view.walk, sr.view.pin = false, nil }()
	return seekVersion(&sr.view, sr.stream, r, target)
}

// event is the event of buf[i]. It reads no mapped byte: Data and Metadata
// alias the mapping, and the caller reads them.
func (sr *streamReader) event(i int) RecordedEvent {
	r := &sr.buf[i]
	return RecordedEvent{
		Stream:   sr.stream,
		Version:  r.Version,
		Position: r.Position,
		Next:     r.End(),
		Time:     time.Unix(0, r.Timestamp),
		ID:       r.ID,
		Type:     sr.typeNames[i],
		Data:     nilIfEmpty(r.Data),
		Metadata: nilIfEmpty(r.Metadata),
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// StreamVersion returns the stream's newest committed version, or NoStream
// (-1) when it has no events or was deleted (DeleteStream) and has none
// since; ErrStreamDeleted when it was tombstoned.
func (s *Store) StreamVersion(stream string) (int64, error) {
	if len(stream) == 0 || len(stream) > MaxStreamIDLen {
		return 0, fmt.Errorf("%w: %d bytes", ErrInvalidStreamID, len(stream))
	}
	sr := getStreamReader(s, stream)
	defer sr.release()
	top, found, err := sr.start()
	if err != nil || !found || !sr.visible(&top) {
		return NoStream, err
	}
	return top.Version, nil
}
