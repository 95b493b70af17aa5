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

// validRecords yields, in order, the file offsets and records at or after
// file offset from of data (a segment starting at log position base) that
// verify in place, stepping over what does not. Records identify
// themselves by their position, so a candidate is decoded only where its
// position field matches; zero pages are skipped whole. The record is
// reused between steps.
func validRecords(data []byte, base uint64, from int64) iter.Seq2[int64, *segment.Record] {
	return func(yield func(int64, *segment.Record) bool) {
		page := int64(os.Getpagesize())
		zero := make([]byte, page)
		var r segment.Record
		off := (from + 7) &^ 7
		for off+segment.RecordHeaderSize <= int64(len(data)) {
			if off%page == 0 && zeroPage(data, off, page, zero) {
				off += page
				continue
			}
			pos := base + uint64(off-segment.HeaderSize)
			if binary.LittleEndian.Uint64(data[off+16:]) == pos {
				if n, err := segment.Decode(data, off, pos, &r); err == nil {
					if !yield(off, &r) {
						return
					}
					off += int64(n)
					continue
				}
			}
			off += 8
		}
	}
}

// zeroPage reports whether data[off:off+page] (clipped) is all zero; zero
// is a page of zeros.
func zeroPage(data []byte, off, page int64, zero []byte) bool {
	end := min(off+page, int64(len(data)))
	return bytes.Equal(data[off:end], zero[:end-off]) // vectorised, unlike a loop
}
