package engine

import (
	"math/bits"
	"sync/atomic"
)

// Stats is a snapshot of a store's counters.
type Stats struct {
	Durability Durability
	// Appends counts the calls that wrote records: Append, and also
	// DeleteStream, TombstoneStream and SetStreamMetadata (counted when
	// written, before their commit).
	Appends      uint64
	Events       uint64 // events written
	Bytes        uint64 // record bytes written, headers and padding included
	Commits      uint64 // group commits that acknowledged appends
	SegmentRolls uint64 // segments started because the active one was full
	// SpareFailures counts background preparations that failed (a full
	// disk, say): of the next segment, or of the index's next table;
	// SpareError is the latest failure's error, kept after later
	// successes. Nothing is lost: the roll (or the index growth) then
	// creates its file itself, and only a failure there fails the store.
	SpareFailures uint64
	SpareError    error
	// AppendsPerCommit is the distribution of appends (and Sync calls)
	// acknowledged by one group commit.
	AppendsPerCommit Histogram
	// MsyncMicros is the distribution of msync latencies, in microseconds.
	MsyncMicros Histogram
	Streams     int // streams in the index
	// DamagedStreams counts the streams whose newest system record
	// failed its checks at Open: their reads and appends fail with a
	// corruption error naming the record (see Open).
	// DamagedStreamError is one of those errors.
	DamagedStreams     int
	DamagedStreamError error
	// IndexSlots is the index's size; IndexGrowths counts its doublings
	// since Open, IndexGrowthsPrepared those that found the new table's
	// file prepared in the background (the others paused appends longer).
	IndexSlots           uint64
	IndexGrowths         uint64
	IndexGrowthsPrepared uint64
	Segments             int // segment files
	// MappedBytes is the bytes of segment mappings open now; SegmentMaps
	// and SegmentUnmaps count the mmap and munmap calls behind them (see
	// Options.MaxMappedBytes).
	MappedBytes       int64
	PeakMappedBytes   int64 // the most MappedBytes was since Open
	SegmentMaps       uint64
	SegmentUnmaps     uint64
	CommittedPosition uint64 // log end visible to readers
	// Compactions counts finished Compact calls; CompactedSegments the
	// segments they replaced, CompactedBytes the file bytes they freed.
	Compactions       uint64
	CompactedSegments uint64
	CompactedBytes    uint64
	// Compacting is the progress of the Compact running: its survey of
	// the sealed segments, then the run of segments it is rewriting. Nil
	// when none runs, and while one takes its retention snapshot.
	Compacting *CompactProgress
	Recovery   Recovery
}

// Histogram counts values in power-of-two buckets: Buckets[0] counts zeros,
// Buckets[i] counts values in [2^(i-1), 2^i).
type Histogram struct {
	Buckets [histBuckets]uint64
}

const histBuckets = 40

// Count is the number of values observed.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Quantile returns an upper bound of the q-quantile (0 <= q <= 1): the top
// of the bucket that holds it.
func (h *Histogram) Quantile(q float64) uint64 {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	var seen uint64
	for i, c := range h.Buckets {
		seen += c
		if seen > rank || seen == total {
			if i == 0 {
				return 0
			}
			return 1<<uint(i) - 1
		}
	}
	return 0
}

// histogram is the concurrent form of Histogram.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
}

func (h *histogram) observe(v uint64) {
	h.buckets[min(bits.Len64(v), histBuckets-1)].Add(1)
}

func (h *histogram) snapshot() Histogram {
	var out Histogram
	for i := range h.buckets {
		out.Buckets[i] = h.buckets[i].Load()
	}
	return out
}

// counters are the store's live statistics.
type counters struct {
	appends, events, bytes, commits, rolls atomic.Uint64
	spareFailures                          atomic.Uint64
	spareError                             atomic.Pointer[error]
	compactions, compactedSegments         atomic.Uint64
	compactedBytes                         atomic.Uint64
	groupEvents                            histogram
	msyncs                                 histogram
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{
		Durability:        s.opts.Durability,
		Appends:           s.stats.appends.Load(),
		Events:            s.stats.events.Load(),
		Bytes:             s.stats.bytes.Load(),
		Commits:           s.stats.commits.Load(),
		SegmentRolls:      s.stats.rolls.Load(),
		SpareFailures:     s.stats.spareFailures.Load(),
		AppendsPerCommit:  s.stats.groupEvents.snapshot(),
		MsyncMicros:       s.stats.msyncs.snapshot(),
		Segments:          len(*s.segs.Load()),
		MappedBytes:       s.maps.mapped.Load(),
		PeakMappedBytes:   s.maps.peak.Load(),
		SegmentMaps:       s.maps.maps.Load(),
		SegmentUnmaps:     s.maps.unmaps.Load(),
		CommittedPosition: s.committed.Load(),
		Compactions:       s.stats.compactions.Load(),
		CompactedSegments: s.stats.compactedSegments.Load(),
		CompactedBytes:    s.stats.compactedBytes.Load(),
		Compacting:        s.compacting.Load(),
		Recovery:          s.opened,
	}
	if p := s.stats.spareError.Load(); p != nil {
		st.SpareError = *p
	}
	st.DamagedStreams, st.DamagedStreamError = s.meta.damagedStreams()
	s.lifeMu.RLock()
	if s.index != nil && !s.closed.Load() {
		st.Streams = s.index.Len()
		st.IndexSlots = s.index.Slots()
		st.IndexGrowths, st.IndexGrowthsPrepared = s.index.Growths()
	}
	s.lifeMu.RUnlock()
	return st
}
