package segment_test

import (
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/segment"
)

// srcRec is one record of a test segment: its position and padded bytes.
type srcRec struct {
	pos uint64
	raw []byte
}

// ordinary is a sealed ordinary segment image: the whole preallocated
// file, and the range its records fill, [h.Base, end).
type ordinary struct {
	file []byte
	h    segment.Header
	end  uint64
	recs []srcRec
}

// buildOrdinary writes batches of the given sizes into a segment of
// 64 KiB starting at base, as the writer does, and seals it there.
func buildOrdinary(t testing.TB, rng *rand.Rand, base uint64, sizes ...int) ordinary {
	t.Helper()
	sb := newSegBuilder(1<<16, base)
	got := sb.batches(t, rng, sizes...)
	h := segment.Header{Base: base, Size: uint64(len(sb.buf)), Created: 7}
	segment.PutHeader(sb.buf, h)
	h.Version = segment.FormatVersion
	o := ordinary{file: sb.buf, h: h, end: sb.pos()}
	for _, s := range got {
		o.recs = append(o.recs, srcRec{s.rec.Position, sb.buf[s.off : s.off+int64(s.rec.Len())]})
	}
	return o
}

// compact writes recs into a compacted file covering [base, end).
func compact(t testing.TB, recs []srcRec, base, end uint64) ([]byte, segment.Header) {
	t.Helper()
	var n int64
	for _, r := range recs {
		n += int64(len(r.raw))
	}
	buf := make([]byte, segment.CompactedSize(n, len(recs)))
	w, err := segment.NewCompactWriter(buf, base, end, len(recs))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Add(r.raw, r.pos); err != nil {
			t.Fatalf("Add at %d: %v", r.pos, err)
		}
	}
	h, err := w.Finish(42)
	if err != nil {
		t.Fatal(err)
	}
	return buf, h
}

// resealCompacted recomputes the map checksum (when the header's map
// offset lies in the file) and the header checksum of a compacted file
// whose fields a test changed in place, so that the change itself is what
// the reader meets.
func resealCompacted(b []byte) {
	if len(b) < segment.HeaderSize {
		return
	}
	if mo := le.Uint64(b[48:]); mo <= uint64(len(b)) {
		le.PutUint64(b[64:], xxhash.Sum64(b[mo:]))
	}
	le.PutUint64(b[120:], xxhash.Sum64(b[:120]))
}

// crafted lays out a compacted file by hand, without the writer's checks:
// each record at its offset (gap zero bytes after the previous one), then
// the zero header and the map.
func crafted(base, end uint64, recs []srcRec, gaps []int) []byte {
	var data int
	for i, r := range recs {
		data += len(r.raw) + gaps[i]
	}
	mapOff := segment.HeaderSize + data + segment.RecordHeaderSize
	b := make([]byte, mapOff+segment.MapEntrySize*len(recs))
	off := segment.HeaderSize
	for i, r := range recs {
		off += gaps[i]
		copy(b[off:], r.raw)
		e := b[mapOff+i*segment.MapEntrySize:]
		le.PutUint64(e, r.pos)
		le.PutUint64(e[8:], uint64(off))
		off += len(r.raw)
	}
	segment.PutHeader(b, segment.Header{
		Flags: segment.FlagCompacted, Base: base, Size: uint64(len(b)), End: end,
		MapOffset: uint64(mapOff), MapCount: uint64(len(recs)),
		MapSum: xxhash.Sum64(b[mapOff:]),
	})
	return b
}
