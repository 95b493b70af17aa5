package engine

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// segmentFile is one segment of the log. It outlives its mappings: a
// sealed segment nobody uses may be unmapped to keep the store under
// Options.MaxMappedBytes, and is mapped again when a reader reaches it
// (see mapper.go).
type segmentFile struct {
	name string
	base uint64 // log position of the first record byte
	size int64  // file size, header included
	// compacted: a compacted segment (see segment/doc.go), whose records
	// are found through its position map; it covers [base, end).
	compacted bool
	// end is where the segment's range ends, once known: the next
	// segment's base, set when the log rolls past it (or at Open); 0 for
	// the newest segment.
	end atomic.Uint64
	// retired: the segment was replaced by compaction. A reader that found
	// it in an old list must look again rather than map its name, which
	// may now name the compacted file (see mapper.acquire).
	retired atomic.Bool

	// cur is the current mapping, nil while unmapped. Only the mapper
	// sets and clears it, under its mutex; readers load it without locks.
	cur atomic.Pointer[mappedSegment]
	// used is the mapper's clock when the mapping was last taken: the
	// least recently used unmapped first.
	used atomic.Uint64
}

// limit is the first log position past the segment's space.
func (f *segmentFile) limit() uint64 {
	if f.compacted {
		return f.end.Load()
	}
	return f.base + uint64(f.size) - segment.HeaderSize
}

// mappedSegment is one mapping of a segment file. It lives until its
// segment file lets go of it (eviction, Close) and the last user releases
// it.
type mappedSegment struct {
	file mmapfile.File
	name string
	base uint64 // log position of the first record byte
	data []byte // the whole file, header included
	// owner accounts for the mapping's bytes until it is closed.
	owner *mapper
	// seg is the segment file mapped.
	seg *segmentFile
	// pmap is a compacted segment's position map (seg.compacted).
	pmap segment.PositionMap

	// refs is 1 while the segment file holds the mapping, plus one per
	// user: each reader holding it, and the writer for every segment it
	// may still write (see Store.writing). The mapping is closed when
	// refs drops to 0, and cannot be taken again after that.
	refs atomic.Int64
}

// offset is the file offset of log position pos, which must lie in s, an
// ordinary segment (the writer's, or one being scanned).
func (s *mappedSegment) offset(pos uint64) int64 { return int64(pos-s.base) + segment.HeaderSize }

// find is the file offset of the record at log position pos, which lies
// in s's range; false when compaction removed it (or none started there).
func (s *mappedSegment) find(pos uint64) (int64, bool) {
	if s.seg.compacted {
		return s.pmap.Find(pos)
	}
	return s.offset(pos), true
}

// limit is the first log position past the segment's space.
func (s *mappedSegment) limit() uint64 {
	if s.seg.compacted {
		return s.seg.end.Load()
	}
	return s.base + uint64(len(s.data)) - segment.HeaderSize
}

// acquire takes a user's reference; false once the mapping is closed or
// about to be.
func (s *mappedSegment) acquire() bool {
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release drops a reference and unmaps the segment with the last one.
func (s *mappedSegment) release() {
	switch s.refs.Add(-1) {
	case 0:
		s.owner.unmapped(s)
	case 1:
		// Unused now: if the mapper is over its cap because every
		// mapping was in use, this one can go.
		if s.owner.over.Load() {
			s.owner.trim()
		}
	}
}

// segmentList is an immutable, base-ordered list of segments; the store
// swaps in a new one when it adds a segment.
type segmentList []*segmentFile

// find returns the segment whose space holds pos, or nil.
func (l segmentList) find(pos uint64) *segmentFile {
	i, found := slices.BinarySearchFunc(l, pos, func(s *segmentFile, p uint64) int {
		return cmp.Compare(s.base, p)
	})
	if !found {
		i-- // the last segment starting before pos
	}
	if i < 0 || i >= len(l) || pos >= l[i].limit() {
		return nil
	}
	// A segment that ends early (its last batch did not fit) is followed
	// by one starting at its data end, found above by exact match.
	return l[i]
}

// readView is a set of held segment mappings. Readers take references
// lazily, as their walk reaches a segment, and drop them when they move on
// or finish; the writer and the index applier have a view of their own.
type readView struct {
	s    *Store
	held []*mappedSegment

	// The segment of the last lookup and the positions it serves: from its
	// base to where the next segment begins. When it was the newest
	// segment, lastHi is its limit, good only while the list it was found
	// in (lastList) is current: a roll may start the next segment earlier.
	last           *mappedSegment
	lastLo, lastHi uint64
	lastList       *segmentList // nil when lastHi is the next segment's base

	// walk: the view serves a walk that needs only its newest record (a
	// seek along a chain), so taking a segment lets go of the others but
	// pin.
	walk bool
	pin  *mappedSegment
}

func (v *readView) closed() bool { return v.s.closed.Load() }

// get returns the mapping of the segment holding pos, referenced until
// the view lets go of it; nil when no segment holds pos.
func (v *readView) get(pos uint64) (*mappedSegment, error) {
	if v.last != nil && pos >= v.lastLo && pos < v.lastHi && (v.lastList == nil || v.lastList == v.s.segs.Load()) {
		return v.last, nil
	}
	list := v.s.segs.Load()
	f := list.find(pos)
	if f == nil {
		return nil, nil
	}
	// A held mapping cannot be evicted, so if the view holds this
	// segment, its current mapping is the one held.
	m := f.cur.Load()
	if m == nil || !slices.Contains(v.held, m) {
		if v.walk {
			// Before the new mapping is taken, so that a capped
			// mapper can unmap the old one for it.
			v.releaseExcept(v.pin)
		}
		var err error
		for m, err = v.s.maps.acquire(f); err == errRetired; m, err = v.s.maps.acquire(f) {
			// Compaction replaced f after list was loaded: the new list
			// has its replacement.
			list = v.s.segs.Load()
			if f = list.find(pos); f == nil {
				return nil, nil
			}
		}
		if err != nil {
			return nil, err
		}
		v.held = append(v.held, m)
	}
	end, newest := m.rangeEnd()
	v.last, v.lastLo, v.lastHi, v.lastList = m, m.base, end, nil
	if newest {
		v.lastList = list
	}
	return m, nil
}

// releaseExcept drops every held segment but those in keep.
func (v *readView) releaseExcept(keep ...*mappedSegment) {
	kept := v.held[:0]
	for _, s := range v.held {
		if slices.Contains(keep, s) {
			kept = append(kept, s)
		} else {
			s.release()
		}
	}
	clear(v.held[len(kept):])
	v.held = kept
	if !slices.Contains(keep, v.last) {
		v.last = nil
	}
}

func (v *readView) close() { v.releaseExcept() }

// segmentEnd is where seg's records end at the latest: the next segment's
// base, or seg's limit for the newest segment.
func (s *Store) segmentEnd(seg *mappedSegment) uint64 {
	end, _ := seg.rangeEnd()
	return end
}

// rangeEnd is where s's records end at the latest: the next segment's
// base, or s's limit while it is the newest segment (newest true).
func (s *mappedSegment) rangeEnd() (end uint64, newest bool) {
	if e := s.seg.end.Load(); e != 0 {
		return e, false
	}
	return s.limit(), true
}
