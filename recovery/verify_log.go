package recovery

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// scanLog scans every usable segment in log order and checks that each
// continues the log where the previous one's data ends.
func (v *verifier) scanLog() {
	lastUsed := -1
	for i, s := range v.segs {
		if s.used {
			lastUsed = i
		}
	}
	prev := -1 // the previous usable segment, when it directly precedes
	var prevEnd uint64
	var prevEndOff int64
	prevReported := false
	for i := range v.segs {
		s := &v.segs[i]
		if v.err != nil {
			return // see verifyStore
		}
		if !s.usable {
			prev = -1 // its range is lost; continuity around it is moot
			v.segDone += s.size
			continue
		}
		if prev >= 0 {
			v.checkContinuity(&v.segs[prev], prevEnd, prevEndOff, prevReported, s, i > lastUsed)
		}
		if _, err := v.mapSegment(s); err != nil {
			if osRefused(err) {
				v.refused(s.name, err)
				return
			}
			if ce := (*segment.CorruptionError)(nil); errors.As(err, &ce) {
				v.problem(err) // a compacted segment's position map: named and located
			} else {
				v.corrupt(s.name, 0, "cannot map the segment again: %v", err)
			}
			hi := s.base + uint64(s.size-segment.HeaderSize)
			if s.compacted {
				hi = s.end // its range, not its (smaller) size
			}
			v.addLost(s.base, hi)
			prev = -1
			v.segDone += s.size
			continue
		}
		var end uint64
		var endOff int64
		var reported bool
		// Read-ahead for the scan; skip pointers and chain reports read
		// back, but rarely further than the page cache still holds.
		s.file.Advise(0, s.size, mmapfile.AdviseSequential)
		s.pinned = true // the scan's records alias it while others map
		v.guard(s.name, func() error {
			end, endOff, reported = v.scanSegment(s, i >= lastUsed)
			return nil
		})
		s.pinned = false
		v.rep.LogEnd = max(v.rep.LogEnd, end)
		prev, prevEnd, prevEndOff, prevReported = i, end, endOff, reported
		v.segDone += s.size
		v.progressAt(v.segDone)
	}
}

// checkContinuity checks that cur starts where prev's data ended (at end,
// file offset endOff of prev). A gap is lost data, unless the damage that
// ended prev early was reported already or cur and every later segment
// are empty (a roll whose first group never became durable; Open removes
// such segments).
func (v *verifier) checkContinuity(prev *vseg, end uint64, endOff int64, reported bool, cur *vseg, trailingEmpty bool) {
	switch {
	case cur.base == end:
	case cur.base < end:
		v.corrupt(cur.name, 16, "segment starts at position %d, inside the data of %s, which ends at %d", cur.base, prev.name, end)
	case trailingEmpty:
		v.note("empty segment %s starts at %d, not where the log ends (%d): the next Open removes it", cur.name, cur.base, end)
	case !reported:
		v.corrupt(prev.name, endOff, "segment data ends at position %d, but the next segment %s starts at %d: %d bytes of the log are missing",
			end, cur.name, cur.base, cur.base-end)
		v.addLost(end, cur.base)
	}
}

// scanSegment verifies the records of s and returns the log position and
// file offset where its data ends, and whether damage there was already
// reported (or classified as a torn tail). last is true for the last
// segment holding records and those after it, where the data may end in a
// torn tail: the unacknowledged last group of an unclean stop, which the
// next Open cuts. Anything else that stops the scan is damage.
func (v *verifier) scanSegment(s *vseg, last bool) (uint64, int64, bool) {
	pos := func(off int64) uint64 { return s.base + uint64(off-segment.HeaderSize) }
	visit := func(off int64, r *segment.Record) error {
		v.rep.Records++
		v.rep.Bytes += int64(r.Len())
		v.follow(s, off, r)
		v.progressAt(v.segDone + off)
		return nil
	}
	if s.compacted {
		return v.scanCompacted(s, visit)
	}
	from := int64(segment.HeaderSize)
	for {
		res, _ := v.sc.Scan(s.data, s.base, from, visit) // visit never fails
		stop := res.End + res.IncompleteBytes            // where the bytes stopped verifying
		if res.Reason == segment.EndFull && res.IncompleteBytes == 0 {
			return pos(res.End), res.End, false
		}
		next := nextValid(s.data, s.base, stop+8)
		if next < 0 && res.Reason == segment.EndZero && res.IncompleteBytes == 0 {
			return pos(res.End), res.End, false // the normal end
		}
		// Acknowledged data ends at a batch boundary no earlier than any
		// record's synced-through and the index checkpoint claim.
		w := max(res.SyncedThrough, v.checkpoint)
		if next >= 0 {
			w = max(w, probeSyncedThrough(s.data, s.base, next))
		}
		if last && w <= pos(res.End) {
			torn := lastNonZero(s.data, res.End) - res.End
			v.rep.TornBytes += torn
			v.note("%s: %d bytes after the end of the log (offset %d, position %d) were never acknowledged (torn tail): the next Open cuts them",
				s.name, torn, res.End, pos(res.End))
			return pos(res.End), res.End, true
		}
		v.problem(&segment.CorruptionError{Segment: s.name, Offset: stop, Reason: stopReason(res, stop, next, w, pos)})
		if next < 0 {
			v.addLost(pos(res.End), pos(int64(len(s.data))))
			return pos(res.End), res.End, true
		}
		v.addLost(pos(res.End), pos(next))
		from = next
	}
}

// scanCompacted verifies the records of s, a compacted segment, and
// returns where its range ends. Compaction copied records that were
// durable: a record that does not verify is damage, and the rest of the
// range is lost for the chain checks.
func (v *verifier) scanCompacted(s *vseg, visit func(off int64, r *segment.Record) error) (uint64, int64, bool) {
	c, err := segment.NewCursor(s.data, s.hdr, s.end)
	if err != nil {
		v.problem(segment.WithSegment(err, s.name))
		v.addLost(s.base, s.end)
		return s.end, segment.HeaderEndAt, true
	}
	for c.Next() {
		_ = visit(c.Offset(), c.Record())
	}
	if err := c.Err(); err != nil {
		v.problem(segment.WithSegment(err, s.name))
		v.addLost(c.Pos(), s.end)
		return s.end, segment.HeaderEndAt, true
	}
	return s.end, segment.HeaderEndAt, false
}

// stopReason explains why the scan stopped at stop, below acknowledged data.
func stopReason(res segment.ScanResult, stop, next int64, durable uint64, pos func(int64) uint64) string {
	var what string
	switch res.Reason {
	case segment.EndInvalid:
		what = res.Invalid.Reason
	case segment.EndZero:
		what = "zeroed record header inside the log"
	default:
		what = "the segment's space ends"
	}
	if res.IncompleteBytes > 0 {
		what += fmt.Sprintf(" inside the batch starting at offset %d", res.End)
	}
	if next < 0 {
		return fmt.Sprintf("%s; the segment's data ends here (position %d), but the log was durable through %d or continues in a later segment",
			what, pos(res.End), durable)
	}
	return fmt.Sprintf("%s; %d bytes (positions %d to %d) are lost, valid records resume at offset %d",
		what, next-res.End, pos(res.End), pos(next), next)
}

// nextValid returns the file offset of the first record at or after from
// that verifies in place, or -1.
func nextValid(data []byte, base uint64, from int64) int64 {
	for off := range validRecords(data, base, from) {
		return off
	}
	return -1
}

// lastNonZero returns the offset just past the last nonzero byte of data at
// or after from, or from when there is none.
func lastNonZero(data []byte, from int64) int64 {
	page := int64(os.Getpagesize())
	zero := make([]byte, page)
	for end := int64(len(data)); end > from; {
		lo := max(from, (end-1)/page*page)
		if !bytes.Equal(data[lo:end], zero[:end-lo]) {
			for end > lo && data[end-1] == 0 {
				end--
			}
			return end
		}
		end = lo
	}
	return from
}
