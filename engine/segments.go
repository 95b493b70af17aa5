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

	// cur is the current mapping, nil while unmapped. Only the mapper
	// sets and clears it, under its mutex; readers load it without locks.
	cur atomic.Pointer[mappedSegment]
	// used is the mapper's clock when the mapping was last taken: the
	// least recently used unmapped first.
	used atomic.Uint64
}

// limit is the first log position past the segment's space.
func (f *segmentFile) limit() uint64 { return f.base + uint64(f.size) - segment.HeaderSize }

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

	// refs is 1 while the segment file holds the mapping, plus one per
	// user: each reader holding it, and the writer for every segment it
	// may still write (see Store.writing). The mapping is closed when
	// refs drops to 0, and cannot be taken again after that.
	refs atomic.Int64
}

// offset is the file offset of log position pos, which must lie in s.
func (s *mappedSegment) offset(pos uint64) int64 { return int64(pos-s.base) + segment.HeaderSize }

// limit is the first log position past the segment's space.
func (s *mappedSegment) limit() uint64 { return s.base + uint64(len(s.data)) - segment.HeaderSize }

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
		var err error
		if m, err = v.s.maps.acquire(f); err != nil {
			return nil, err
		}
		if v.walk {
			v.releaseExcept(v.pin)
		}
		v.held = append(v.held, m)
	}
	end, newest := list.end(m)
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
	end, _ := s.segs.Load().end(seg)
	return end
}

// end is where seg's records end at the latest in list: the next
// segment's base, or seg's limit when no segment follows it (newest).
func (l *segmentList) end(seg *mappedSegment) (end uint64, newest bool) {
	i, found := slices.BinarySearchFunc(*l, seg.base, func(f *segmentFile, base uint64) int {
		return cmp.Compare(f.base, base)
	})
	if found && i+1 < len(*l) {
		return (*l)[i+1].base, false
	}
	return seg.limit(), true
}
