package recovery

import (
	"bytes"
	"encoding/binary"
	"iter"
	"os"

	"github.com/spooldb/spool/segment"
)

// Records carry the log position known durable when they were written
// (their synced-through field). A record that verifies anywhere after the
// point where the log seems to end, and claims the log was durable past
// that point, proves the end is damage below acknowledged data, not a
// torn tail: a torn group's records were all written before any of it was
// synced, so none of them claims more than where the group starts.

// probeSyncedThrough returns the highest synced-through position of the
// records that verify in data[from:], a segment starting at log position
// base.
func probeSyncedThrough(data []byte, base uint64, from int64) uint64 {
	var w uint64
	for _, r := range validRecords(data, base, from) {
		w = max(w, r.SyncedThrough)
	}
	return w
}

// tailProbe is what probeFile found after a file offset.
type tailProbe struct {
	syncedThrough uint64 // the highest of the records that verify
	// [lo, hi) holds every byte that was not seen to lie in a zero page;
	// lo == hi when all of them were.
	lo, hi int64
}

// probeFile is probeSyncedThrough over the segment file f, read rather
// than touched through its mapping (see segment.View), that also tells
// where nonzero bytes may be, so that cutting the tail need not read it
// again.
func probeFile(v *segment.View, f segment.Source, base uint64, from int64) (tailProbe, error) {
	v.SetSource(f)
	defer v.SetBytes(nil) // keep the buffer, not the file
	var p tailProbe
	var err error
	p.lo, p.hi, err = eachValid(v, base, from, func(_ int64, r *segment.Record) bool {
		p.syncedThrough = max(p.syncedThrough, r.SyncedThrough)
		return true
	})
	return p, err
}

// validRecords yields, in order, the file offsets and records at or after
// file offset from of data (a segment starting at log position base) that
// verify in place, stepping over what does not (see eachValid). The record
// is reused between steps.
func validRecords(data []byte, base uint64, from int64) iter.Seq2[int64, *segment.Record] {
	return func(yield func(int64, *segment.Record) bool) {
		var v segment.View
		v.SetBytes(data)
		_, _, _ = eachValid(&v, base, from, yield) // data is all in view: nothing to read, nothing to fail
	}
}

// eachValid calls yield, in order, with the file offsets and records at or
// after file offset from of v (a segment starting at log position base)
// that verify in place, stepping over what does not, until yield returns
// false. Records identify themselves by their position, so a candidate is
// decoded only where its position field matches; zero pages are skipped
// whole. The record is reused between steps. [lo, hi) covers every byte
// from from on that was not in a skipped zero page (lo == hi when none).
// An error is a failed read.
func eachValid(v *segment.View, base uint64, from int64, yield func(int64, *segment.Record) bool) (lo, hi int64, err error) {
	page := int64(os.Getpagesize())
	zero := make([]byte, page)
	var r segment.Record
	size := v.Size()
	lo, hi = -1, -1
	seen := from // end of the last skipped zero page, or from
	off := (from + 7) &^ 7
	for off+segment.RecordHeaderSize <= size {
		if off%page == 0 {
			b, err := v.At(off, off, off+page)
			if err != nil {
				return 0, 0, err
			}
			if zeroPage(b, page, zero) {
				off += page
				seen = off
				continue
			}
		}
		if lo < 0 {
			lo = seen // every step since then was not a skip
		}
		b, err := v.At(off, off, off+segment.RecordHeaderSize)
		if err != nil {
			return 0, 0, err
		}
		pos := base + uint64(off-segment.HeaderSize)
		if binary.LittleEndian.Uint64(b[16:]) == pos {
			if padded := (int64(binary.LittleEndian.Uint32(b[8:])) + 7) &^ 7; off+padded <= size {
				// Decode judges a size past the segment's end on its own.
				if b, err = v.At(off, off, off+padded); err != nil {
					return 0, 0, err
				}
			}
			if n, err := segment.Decode(b, 0, pos, &r); err == nil {
				hi = off + int64(n)
				if !yield(off, &r) {
					return lo, hi, nil
				}
				off += int64(n)
				continue
			}
		}
		off += 8
		hi = off
	}
	if off < size { // too short for a header: not looked at
		if lo < 0 {
			lo = seen
		}
		hi = size
	}
	if lo < 0 {
		return from, from, nil
	}
	return lo, hi, nil
}

// zeroPage reports whether b[:page] (clipped) is all zero; zero is a page
// of zeros.
func zeroPage(b []byte, page int64, zero []byte) bool {
	n := min(page, int64(len(b)))
	return bytes.Equal(b[:n], zero[:n]) // vectorised, unlike a loop
}
