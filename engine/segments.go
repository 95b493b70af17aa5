package engine

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// mappedSegment is one open segment file. Its mapping lives until the store
// retires it and the last reader holding it lets go.
type mappedSegment struct {
	file mmapfile.File
	name string
	base uint64 // log position of the first record byte
	data []byte // the whole file, header included

	// refs is 1 while the segment belongs to the store, plus one per reader
	// holding it; the mapping is closed when it drops to 0.
	refs atomic.Int64
}

func newMappedSegment(f mmapfile.File, name string, base uint64) *mappedSegment {
	s := &mappedSegment{file: f, name: name, base: base, data: f.Bytes()}
	s.refs.Store(1)
	return s
}

// offset is the file offset of log position pos, which must lie in s.
func (s *mappedSegment) offset(pos uint64) int64 { return int64(pos-s.base) + segment.HeaderSize }

// limit is the first log position past the segment's space.
func (s *mappedSegment) limit() uint64 { return s.base + uint64(len(s.data)) - segment.HeaderSize }

// acquire takes a reader's reference; false once the segment is retired.
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
	if s.refs.Add(-1) == 0 {
		_ = s.file.Close()
	}
}

// segmentList is an immutable, base-ordered list of segments; the store
// swaps in a new one when it adds a segment.
type segmentList []*mappedSegment

// find returns the segment whose space holds pos, or nil.
func (l segmentList) find(pos uint64) *mappedSegment {
	i, found := slices.BinarySearchFunc(l, pos, func(s *mappedSegment, p uint64) int {
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

// readView is a reader's set of held segments. Readers take references
// lazily, as their walk reaches a segment, and drop them all at the end.
type readView struct {
	s    *Store
	held []*mappedSegment

	// The segment of the last lookup and the positions it serves: from its
	// base to where the next segment begins.
	last           *mappedSegment
	lastLo, lastHi uint64
}

func (v *readView) closed() bool { return v.s.closed.Load() }

// get returns the segment holding pos, referenced for the view's lifetime.
func (v *readView) get(pos uint64) (*mappedSegment, bool) {
	if v.last != nil && pos >= v.lastLo && pos < v.lastHi {
		return v.last, true
	}
	m := (*v.s.segs.Load()).find(pos)
	if m == nil {
		return nil, false
	}
	if !slices.Contains(v.held, m) {
		if !m.acquire() {
			return nil, false
		}
		v.held = append(v.held, m)
	}
	v.last, v.lastLo, v.lastHi = m, m.base, v.s.segmentEnd(m)
	return m, true
}

// releaseExcept drops every held segment but keep (ReadAll keeps only the
// segment it is in).
func (v *readView) releaseExcept(keep *mappedSegment) {
	kept := v.held[:0]
	for _, s := range v.held {
		if s == keep {
			kept = append(kept, s)
		} else {
			s.release()
		}
	}
	clear(v.held[len(kept):])
	v.held = kept
	if v.last != keep {
		v.last = nil
	}
}

func (v *readView) close() { v.releaseExcept(nil) }

// segmentEnd is where seg's records end at the latest: the next segment's
// base, or seg's limit for the newest segment.
func (s *Store) segmentEnd(seg *mappedSegment) uint64 {
	list := *s.segs.Load()
	i, found := slices.BinarySearchFunc(list, seg.base, func(m *mappedSegment, base uint64) int {
		return cmp.Compare(m.base, base)
	})
	if found && i+1 < len(list) {
		return list[i+1].base
	}
	return seg.limit()
}
