package segment_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spooldb/spool/segment"
)

func positionMapSeeds(f *testing.F) {
	rng := newRand(f, 80)
	src := buildOrdinary(f, rng, 1<<20, 1, 2, 1, 3)
	some := []srcRec{src.recs[0], src.recs[3], src.recs[4], src.recs[6]}
	good, _ := compact(f, some, 1<<20, src.end)
	empty, _ := compact(f, nil, 1<<20, src.end)
	f.Add(good, uint64(0), uint8(0))
	f.Add(empty, uint64(0), uint8(0))
	f.Add(crafted(1<<20, src.end, some, []int{0, 0, 8, 0}), uint64(0), uint8(0))
	flipped := bytes.Clone(good)
	flipped[segment.HeaderSize+segment.RecordHeaderSize+3] ^= 1
	f.Add(flipped, uint64(0), uint8(0))
	// Map fields changed, checksums made to agree: the reader meets the
	// change itself.
	for _, at := range []int{40, 48, 56} {
		b := bytes.Clone(good)
		b[at] ^= 8
		f.Add(b, uint64(0), uint8(1))
	}
	moved := bytes.Clone(good)
	moved[len(moved)-8] += 8 // the last record's offset
	f.Add(moved, uint64(0), uint8(1))
	f.Add(good[:len(good)-16], uint64(0), uint8(1))
	// An ordinary segment, with its true end and others.
	small := buildOrdinary(f, rng, 4096, 1, 2)
	seg := bytes.Clone(small.file[:small.end-4096+segment.HeaderSize+segment.RecordHeaderSize])
	segment.PutHeader(seg, segment.Header{Base: 4096, Size: uint64(len(seg))})
	for _, end := range []uint64{small.end, small.end - 8, small.end + 8, small.end + segment.RecordHeaderSize} {
		f.Add(seg, end, uint8(0))
	}
	f.Add([]byte{}, uint64(0), uint8(1))
}

// FuzzPositionMap feeds arbitrary bytes as a segment file: reading its
// header, its position map and its records never panics, every rejection
// is a *CorruptionError, and what is accepted is consistent: the map's
// lookups agree with its entries and a cursor reads exactly the records
// the map lists, or stops with corruption at the first one that does not
// verify. With reseal set, the fuzzer's changes to a header or map come
// with matching checksums, so that they reach the checks behind them.
func FuzzPositionMap(f *testing.F) {
	positionMapSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, end uint64, reseal uint8) {
		b := bytes.Clone(data)
		if reseal&1 != 0 {
			resealCompacted(b)
		}
		h, err := segment.ReadHeader(b, int64(len(b)))
		if err != nil {
			isCorrupt(t, err)
			return
		}
		if !h.Compacted() {
			fuzzOrdinary(t, b, h, end)
			return
		}
		m, err := segment.LoadPositionMap(b, h)
		if err != nil {
			isCorrupt(t, err)
			return
		}
		if uint64(m.Len()) != h.MapCount {
			t.Fatalf("map of %d entries, header says %d", m.Len(), h.MapCount)
		}
		var prev uint64
		for i := range m.Len() {
			pos, off := m.At(i)
			if (i > 0 && pos <= prev) || pos < h.Base || pos >= h.End || off < segment.HeaderSize || off >= int64(h.MapOffset) {
				t.Fatalf("entry %d (%d at %d) out of order or range", i, pos, off)
			}
			if got, ok := m.Find(pos); !ok || got != off || m.Search(pos) != i || m.Search(pos+1) != i+1 {
				t.Fatalf("lookups of entry %d (%d at %d) disagree: Find %d %v, Search %d", i, pos, off, got, ok, m.Search(pos))
			}
			if i+1 < m.Len() {
				if next, _ := m.At(i + 1); next != pos+1 {
					if _, ok := m.Find(pos + 1); ok {
						t.Fatalf("Find(%d) found a record no entry lists", pos+1)
					}
				}
			}
			prev = pos
		}
		if h.End != 0 {
			if _, err := segment.NewCursor(b, h, h.End-1); err == nil {
				t.Fatal("cursor over a compacted file with another range end")
			}
		}
		c, err := segment.NewCursor(b, h, h.End)
		if err != nil {
			t.Fatalf("NewCursor after the map loaded: %v", err)
		}
		i := 0
		for c.Next() {
			pos, off := m.At(i)
			if c.Pos() != pos || c.Offset() != off || c.Record().Position != pos || len(c.Raw()) != c.Record().Len() {
				t.Fatalf("cursor record %d at %d (offset %d), map says %d at %d", i, c.Pos(), c.Offset(), pos, off)
			}
			var r segment.Record
			if n, err := segment.Decode(b, off, pos, &r); err != nil || n != len(c.Raw()) {
				t.Fatalf("record %d verified by the cursor fails Decode: %d, %v", i, n, err)
			}
			i++
		}
		if c.Err() == nil {
			if i != m.Len() {
				t.Fatalf("cursor read %d of %d records without an error", i, m.Len())
			}
			return
		}
		_, off := m.At(i)
		wantCorrupt(t, c.Err(), off)
	})
}

// fuzzOrdinary reads an ordinary segment whose range ends at end.
func fuzzOrdinary(t *testing.T, b []byte, h segment.Header, end uint64) {
	c, err := segment.NewCursor(b, h, end)
	if err != nil {
		isCorrupt(t, err)
		return
	}
	next := h.Base
	for c.Next() {
		if c.Pos() != next || c.Offset() != int64(segment.HeaderSize+next-h.Base) {
			t.Fatalf("record at %d (offset %d), expected the next one at %d", c.Pos(), c.Offset(), next)
		}
		next += uint64(len(c.Raw()))
	}
	if c.Err() == nil {
		if next != end {
			t.Fatalf("cursor ended at %d without an error, the range ends at %d", next, end)
		}
		return
	}
	wantCorrupt(t, c.Err(), int64(segment.HeaderSize+next-h.Base))
}

func isCorrupt(t *testing.T, err error) {
	t.Helper()
	var ce *segment.CorruptionError
	if !errors.As(err, &ce) || !errors.Is(err, segment.ErrCorrupt) || ce.Reason == "" {
		t.Fatalf("error %v (%T) is not a *CorruptionError", err, err)
	}
}
