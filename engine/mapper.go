package engine

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// mapper maps segment files on demand and keeps the bytes of the mappings
// it caches under a cap, so that a store larger than a 32-bit address
// space works: when a new mapping takes the total past the cap, cached
// mappings nobody uses are closed, least recently used first. Mappings in
// use (by readers, or by the writer for the segments it may still write)
// are never closed under their users; while they alone exceed the cap, the
// cap is exceeded.
type mapper struct {
	fs    mmapfile.FS
	limit int64
	segs  *atomic.Pointer[segmentList] // the store's list, to choose from

	// clock ticks with every new mapping; segment files note it when
	// their mapping is taken (segmentFile.used).
	clock atomic.Uint64
	// mapped is the bytes of all open mappings, cached or retired but
	// still in use; maps and unmaps count mmap and munmap calls.
	mapped       atomic.Int64
	peak         atomic.Int64 // the most mapped at once
	maps, unmaps atomic.Uint64
	// over: cached mappings exceed the cap because all were in use; the
	// next one let go of is unmapped.
	over atomic.Bool

	mu     sync.Mutex
	cached int64 // bytes of the mappings segment files hold
	closed bool  // the store closed: nothing is mapped any more
}

// acquire returns f's mapping with a reference for the caller, mapping the
// file when it is not mapped.
func (mp *mapper) acquire(f *segmentFile) (*mappedSegment, error) {
	if m := f.cur.Load(); m != nil && m.acquire() {
		if c := mp.clock.Load(); f.used.Load() != c {
			f.used.Store(c)
		}
		return m, nil
	}
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.closed {
		return nil, ErrClosed
	}
	// Mapped meanwhile by another reader? (An evicted mapping's cur is
	// cleared under mu, so a mapping seen here is alive.)
	if m := f.cur.Load(); m != nil && m.acquire() {
		return m, nil
	}
	if f.retired.Load() {
		// Its name may name the compacted file that replaced it now.
		return nil, errRetired
	}
	file, err := mp.fs.Open(f.name)
	if err != nil {
		return nil, fmt.Errorf("spool: map segment %s: %w", f.name, err)
	}
	cached := false
	defer func() {
		if !cached { // a bad header, or a fault reading it
			_ = file.Close()
		}
	}()
	pmap, err := checkSegmentFile(file, f)
	if err != nil {
		return nil, err
	}
	m := mp.cacheLocked(f, file, pmap)
	cached = true
	m.refs.Add(1)
	return m, nil
}

// checkSegmentFile checks that a file mapped again is still the segment
// it was: same size, same header, and returns a compacted segment's
// position map, checked.
func checkSegmentFile(file mmapfile.File, f *segmentFile) (segment.PositionMap, error) {
	if file.Size() != f.size {
		return segment.PositionMap{}, &CorruptionError{Segment: f.name, Offset: file.Size(), Reason: fmt.Sprintf(
			"segment file is %d bytes, it was %d when the store opened it", file.Size(), f.size)}
	}
	h, err := segment.ReadHeader(file.Bytes(), file.Size())
	switch {
	case err != nil:
	case h.Base != f.base:
		err = &segment.CorruptionError{Offset: 16, Reason: fmt.Sprintf("header base %#x does not match the file name", h.Base)}
	case h.Compacted() != f.compacted || (f.compacted && h.End != f.end.Load()):
		err = &segment.CorruptionError{Offset: segment.HeaderFlagsAt, Reason: "segment file changed since the store opened it (compacted or not)"}
	}
	var pmap segment.PositionMap
	if err == nil && f.compacted {
		pmap, err = segment.LoadPositionMap(file.Bytes(), h)
	}
	return pmap, segment.WithSegment(err, f.name)
}

// add makes file, just created or opened and checked, the mapping of f,
// and returns it. The mapping holds the segment file's reference only.
func (mp *mapper) add(f *segmentFile, file mmapfile.File, pmap segment.PositionMap) *mappedSegment {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	return mp.cacheLocked(f, file, pmap)
}

func (mp *mapper) cacheLocked(f *segmentFile, file mmapfile.File, pmap segment.PositionMap) *mappedSegment {
	m := &mappedSegment{file: file, name: f.name, base: f.base, data: file.Bytes(), owner: mp, seg: f, pmap: pmap}
	m.refs.Store(1)
	n := int64(len(m.data))
	if total := mp.mapped.Add(n); total > mp.peak.Load() {
		mp.peak.Store(total) // under mu: no lost update
	}
	mp.maps.Add(1)
	f.used.Store(mp.clock.Add(1))
	f.cur.Store(m)
	mp.cached += n
	mp.evictLocked(f)
	return m
}

// evictLocked closes cached mappings nobody uses, least recently used
// first, until the cached bytes are under the cap; keep (just mapped for
// its caller) stays.
func (mp *mapper) evictLocked(keep *segmentFile) {
	// over is set before the scan: a user letting go of a mapping the
	// scan already passed over then trims again (after this, under mu).
	mp.over.Store(true)
	defer func() { mp.over.Store(mp.cached > mp.limit) }()
	for mp.cached > mp.limit {
		var victim *segmentFile
		var vm *mappedSegment
		for _, f := range *mp.segs.Load() {
			m := f.cur.Load()
			if f == keep || m == nil || m.refs.Load() != 1 {
				continue
			}
			if victim == nil || f.used.Load() < victim.used.Load() {
				victim, vm = f, m
			}
		}
		if victim == nil {
			return // every cached mapping is in use
		}
		// Only the segment file's reference left: taking it to 0 makes
		// acquire fail, so no user can appear any more.
		if !vm.refs.CompareAndSwap(1, 0) {
			continue // taken meanwhile; choose again
		}
		victim.cur.Store(nil)
		mp.cached -= int64(len(vm.data))
		mp.unmapped(vm)
	}
}

// trim unmaps cached mappings nobody uses while the cap is exceeded.
func (mp *mapper) trim() {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if !mp.closed {
		mp.evictLocked(nil)
	}
}

// drop lets go of f's mapping: f's file was removed (recovery cut it off)
// or the store closes. Users keep the mapping until they release it.
func (mp *mapper) drop(f *segmentFile) {
	mp.mu.Lock()
	m := f.cur.Swap(nil)
	if m != nil {
		mp.cached -= int64(len(m.data))
	}
	mp.mu.Unlock()
	if m != nil {
		m.release()
	}
}

// close drops every mapping of list and refuses to map from now on.
func (mp *mapper) close(list segmentList) {
	mp.mu.Lock()
	mp.closed = true
	mp.mu.Unlock()
	for _, f := range list {
		mp.drop(f)
	}
}

// unmapped closes m, whose last reference is gone.
func (mp *mapper) unmapped(m *mappedSegment) {
	_ = m.file.Close()
	mp.mapped.Add(-int64(len(m.data)))
	mp.unmaps.Add(1)
}
