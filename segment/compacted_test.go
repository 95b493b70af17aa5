package segment_test

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/segment"
)

// checkCompacted checks that file is a compacted segment covering
// [base, end) that holds exactly kept, byte for byte at their positions,
// and that every position of all (the records of the source) not kept
// is not found.
func checkCompacted(t *testing.T, file []byte, base, end uint64, all, kept []srcRec) {
	t.Helper()
	h, err := segment.ReadHeader(file, int64(len(file)))
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if !h.Compacted() || h.Base != base || h.End != end || h.MapCount != uint64(len(kept)) {
		t.Fatalf("header %+v, want a compacted [%d, %d) of %d records", h, base, end, len(kept))
	}
	m, err := segment.LoadPositionMap(file, h)
	if err != nil {
		t.Fatalf("LoadPositionMap: %v", err)
	}
	if m.Len() != len(kept) {
		t.Fatalf("map of %d entries, want %d", m.Len(), len(kept))
	}
	isKept := make(map[uint64][]byte)
	for i, r := range kept {
		isKept[r.pos] = r.raw
		if pos, _ := m.At(i); pos != r.pos {
			t.Fatalf("entry %d at position %d, want %d", i, pos, r.pos)
		}
		if got := m.Search(r.pos); got != i {
			t.Fatalf("Search(%d) = %d, want %d", r.pos, got, i)
		}
		if got := m.Search(r.pos + 1); got != i+1 {
			t.Fatalf("Search(%d) = %d, want %d", r.pos+1, got, i+1)
		}
	}
	if m.Search(0) != 0 || m.Search(end) != m.Len() || m.Search(math.MaxUint64) != m.Len() {
		t.Fatalf("Search at the bounds: %d %d %d (len %d)", m.Search(0), m.Search(end), m.Search(math.MaxUint64), m.Len())
	}
	var rec segment.Record
	for _, r := range all {
		off, ok := m.Find(r.pos)
		raw, want := isKept[r.pos]
		if ok != want {
			t.Fatalf("Find(%d) = %v, kept %v", r.pos, ok, want)
		}
		if _, ok := m.Find(r.pos + 8); ok && isKept[r.pos+8] == nil {
			t.Fatalf("Find(%d), inside a record, found something", r.pos+8)
		}
		if !ok {
			continue
		}
		n, err := segment.Decode(file, off, r.pos, &rec)
		if err != nil {
			t.Fatalf("Decode at the Find offset of %d: %v", r.pos, err)
		}
		if !bytes.Equal(file[off:off+int64(n)], raw) {
			t.Fatalf("record at %d is not byte-identical to its source", r.pos)
		}
	}
	c, err := segment.NewCursor(file, h, end)
	if err != nil {
		t.Fatalf("NewCursor: %v", err)
	}
	i := 0
	for c.Next() {
		if i >= len(kept) || c.Pos() != kept[i].pos || !bytes.Equal(c.Raw(), kept[i].raw) || c.Record().Position != kept[i].pos {
			t.Fatalf("cursor record %d at %d differs", i, c.Pos())
		}
		if _, off := m.At(i); c.Offset() != off {
			t.Fatalf("cursor record %d at offset %d, map says %d", i, c.Offset(), off)
		}
		i++
	}
	if c.Err() != nil || i != len(kept) {
		t.Fatalf("cursor read %d of %d records: %v", i, len(kept), c.Err())
	}
}

func TestCompactedRoundTrip(t *testing.T) {
	rng := newRand(t, 60)
	const base = 1<<40 + 8
	src := buildOrdinary(t, rng, base, 1, 3, 1, 5, 2, 1, 1, 8, 4, 1, 2, 7)
	for _, share := range []float64{0, 0.1, 0.5, 0.9, 1} {
		var kept []srcRec
		for _, r := range src.recs {
			if rng.Float64() < share || share == 1 {
				kept = append(kept, r)
			}
		}
		file, h := compact(t, kept, base, src.end)
		if h.Version != segment.FormatVersion || h.Created != 42 || h.Size != uint64(len(file)) {
			t.Fatalf("Finish returned %+v", h)
		}
		if got, _ := segment.ReadHeader(file, int64(len(file))); got != h {
			t.Fatalf("ReadHeader = %+v, Finish returned %+v", got, h)
		}
		checkCompacted(t, file, base, src.end, src.recs, kept)

		// Compacting the compacted file again, through its cursor, with
		// a range extended past it (a following segment merged in that
		// kept nothing).
		c, err := segment.NewCursor(file, h, src.end)
		if err != nil {
			t.Fatal(err)
		}
		var again []srcRec
		for c.Next() {
			if rng.IntN(2) == 0 {
				again = append(again, srcRec{c.Pos(), c.Raw()})
			}
		}
		if c.Err() != nil {
			t.Fatal(c.Err())
		}
		file2, _ := compact(t, again, base, src.end+4096)
		checkCompacted(t, file2, base, src.end+4096, src.recs, again)
	}
}

func TestCompactedEmpty(t *testing.T) {
	rng := newRand(t, 61)
	src := buildOrdinary(t, rng, 4096, 2, 1)
	file, h := compact(t, nil, 4096, src.end)
	if len(file) != segment.HeaderSize+segment.RecordHeaderSize || h.MapOffset != uint64(len(file)) {
		t.Fatalf("empty compacted file of %d bytes, map at %d", len(file), h.MapOffset)
	}
	checkCompacted(t, file, 4096, src.end, src.recs, nil)
	if !segment.IsEnd(file[segment.HeaderSize:]) {
		t.Fatal("an empty compacted file does not read as ending after its header")
	}
}

// A forward reader that knows nothing of compaction sees the records and
// then the end, never the map.
func TestCompactedReadsAsEnded(t *testing.T) {
	rng := newRand(t, 62)
	src := buildOrdinary(t, rng, 0, 3, 1, 2)
	file, h := compact(t, src.recs[1:3], 0, src.end)
	off := int64(segment.HeaderSize)
	var rec segment.Record
	for _, r := range src.recs[1:3] {
		n, err := segment.Decode(file, off, r.pos, &rec)
		if err != nil {
			t.Fatal(err)
		}
		off += int64(n)
	}
	if off != int64(h.MapOffset)-segment.RecordHeaderSize || !segment.IsEnd(file[off:]) {
		t.Fatalf("records end at %d, map at %d, zero header: %v", off, h.MapOffset, segment.IsEnd(file[off:]))
	}
}

func goodCompacted(t *testing.T) ([]byte, ordinary) {
	rng := newRand(t, 63)
	src := buildOrdinary(t, rng, 1<<20, 1, 2, 1, 3, 1)
	file, _ := compact(t, []srcRec{src.recs[0], src.recs[2], src.recs[3], src.recs[6]}, 1<<20, src.end)
	return file, src
}

func TestReadHeaderCompactedRejects(t *testing.T) {
	good, src := goodCompacted(t)
	size := int64(len(good))
	mapOff := le.Uint64(good[48:])
	count := le.Uint64(good[56:])
	reseal := func(b []byte) { le.PutUint64(b[120:], xxhash.Sum64(b[:120])) }
	put := func(at int, v uint64) func(b []byte) {
		return func(b []byte) { le.PutUint64(b[at:], v); reseal(b) }
	}
	cases := []struct {
		name string
		mod  func(b []byte)
		off  int64
	}{
		{"end equals base", put(40, 1<<20), 40},
		{"end before base", put(40, 1<<20-8), 40},
		{"end past max position", put(40, segment.MaxPosition+1), 40},
		{"end of an ordinary segment", func(b []byte) { le.PutUint32(b[12:], 0); reseal(b) }, 40},
		{"map offset misaligned", put(48, mapOff+4), 48},
		{"map offset before the end header", put(48, segment.HeaderSize+segment.RecordHeaderSize-8), 48},
		{"map offset past the file", put(48, uint64(size)+16), 48},
		{"map count one short", put(56, count-1), 56},
		{"map count one more", put(56, count+1), 56},
		{"map count wrapping to the file size", put(56, count+1<<60), 56},
		{"map count huge", put(56, math.MaxUint64), 56},
		{"no records, some bytes", func(b []byte) {
			le.PutUint64(b[48:], uint64(size))
			le.PutUint64(b[56:], 0)
			reseal(b)
		}, 56},
		{"more record bytes than the range", put(40, 1<<20+segment.RecordHeaderSize), 56},
		{"reserved byte 72", func(b []byte) { b[72] = 1; reseal(b) }, 72},
		{"reserved byte 119", func(b []byte) { b[119] = 1; reseal(b) }, 119},
	}
	for _, c := range cases {
		b := bytes.Clone(good)
		c.mod(b)
		_, err := segment.ReadHeader(b, size)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		wantCorrupt(t, err, c.off)
	}

	// An ordinary segment uses nothing past its creation time.
	for _, at := range []int{40, 48, 56, 64, 71, 72, 100, 119} {
		b := bytes.Clone(src.file[:segment.HeaderSize])
		b[at] = 0x80
		reseal(b)
		_, err := segment.ReadHeader(b, int64(len(src.file)))
		wantCorrupt(t, err, int64(at))
	}
}

func TestLoadPositionMapRejects(t *testing.T) {
	good, src := goodCompacted(t)
	h, err := segment.ReadHeader(good, int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	mo := int(h.MapOffset)
	entry := func(i, field int) int { return mo + i*segment.MapEntrySize + field*8 }
	p0, o1 := le.Uint64(good[entry(0, 0):]), le.Uint64(good[entry(1, 1):])
	p3 := le.Uint64(good[entry(3, 0):])
	set := func(at int, v uint64) func(b []byte) { return func(b []byte) { le.PutUint64(b[at:], v) } }
	cases := []struct {
		name   string
		mod    func(b []byte)
		reseal bool
		off    int64
	}{
		{"map bit flip", func(b []byte) { b[mo+3] ^= 4 }, false, int64(mo)},
		{"map checksum", func(b []byte) { b[64] ^= 1; le.PutUint64(b[120:], xxhash.Sum64(b[:120])) }, false, int64(mo)},
		{"last map byte", func(b []byte) { b[len(b)-1] ^= 0x80 }, false, int64(mo)},
		{"position before base", set(entry(0, 0), h.Base-8), true, int64(entry(0, 0))},
		{"position at end", set(entry(3, 0), h.End), true, int64(entry(3, 0))},
		{"offset misaligned", set(entry(1, 1), o1+4), true, int64(entry(1, 0))},
		{"offset past the records", set(entry(3, 1), h.MapOffset), true, int64(entry(3, 0))},
		{"first record not at the header's end", set(entry(0, 1), segment.HeaderSize+8), true, int64(entry(0, 0))},
		{"offsets not increasing", set(entry(1, 1), segment.HeaderSize), true, int64(entry(1, 0))},
		{"offsets closer than a record header", set(entry(1, 1), segment.HeaderSize+64), true, int64(entry(1, 0))},
		{"positions not increasing", set(entry(1, 0), p0), true, int64(entry(1, 0))},
		{"positions closer than the record's length", set(entry(1, 0), p0+8), true, int64(entry(1, 0))},
		{"last record past the range end", func(b []byte) {
			le.PutUint64(b[40:], p3+8)
		}, true, int64(entry(3, 0))},
		{"no zero header after the records", func(b []byte) { b[mo-50] = 1 }, true, int64(mo - segment.RecordHeaderSize)},
	}
	for _, c := range cases {
		b := bytes.Clone(good)
		c.mod(b)
		if c.reseal {
			resealCompacted(b)
		}
		hh, err := segment.ReadHeader(b, int64(len(b)))
		if err != nil {
			t.Fatalf("%s: the header no longer reads: %v", c.name, err)
		}
		_, err = segment.LoadPositionMap(b, hh)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		wantCorrupt(t, err, c.off)
	}

	if _, err := segment.LoadPositionMap(src.file, src.h); !errors.Is(err, segment.ErrNotCompacted) {
		t.Fatalf("map of an ordinary segment: %v", err)
	}
	_, err = segment.LoadPositionMap(good[:len(good)-16], h)
	wantCorrupt(t, err, 24)
	// A header that did not come from ReadHeader is checked again.
	bad := h
	bad.MapCount = 1 << 62
	_, err = segment.LoadPositionMap(good, bad)
	wantCorrupt(t, err, 56)
}

// A header with hostile sizes costs nothing to reject: no allocation
// follows its counts.
func TestHostileCompactedHeaderAllocatesNothing(t *testing.T) {
	b := make([]byte, segment.HeaderSize+segment.RecordHeaderSize+16)
	for _, count := range []uint64{1 << 40, math.MaxUint64, math.MaxUint64 / 16} {
		segment.PutHeader(b, segment.Header{Flags: segment.FlagCompacted, Base: 0, End: 1 << 50,
			Size: uint64(len(b)), MapOffset: segment.HeaderSize + segment.RecordHeaderSize, MapCount: count})
		h := segment.Header{Flags: segment.FlagCompacted, End: 1 << 50, Size: uint64(len(b)),
			MapOffset: segment.HeaderSize + segment.RecordHeaderSize, MapCount: count}
		const runs = 100
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			if _, err := segment.ReadHeader(b, int64(len(b))); err == nil {
				t.Fatal("accepted")
			}
			if _, err := segment.NewCursor(b, h, 1<<50); err == nil {
				t.Fatal("accepted")
			}
			if _, err := segment.LoadPositionMap(b, h); err == nil {
				t.Fatal("accepted")
			}
		}
		runtime.ReadMemStats(&after)
		// The error values only: a few hundred bytes.
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4096 {
			t.Fatalf("%d bytes allocated rejecting a count of %d", per, count)
		}
	}
}

func TestCompactWriterRejects(t *testing.T) {
	rng := newRand(t, 64)
	src := buildOrdinary(t, rng, 8192, 1, 2, 1)
	r0, r1, r2 := src.recs[0], src.recs[1], src.recs[2]
	size := func(recs ...srcRec) int64 {
		var n int64
		for _, r := range recs {
			n += int64(len(r.raw))
		}
		return segment.CompactedSize(n, len(recs))
	}
	newW := func(t *testing.T, n int64, base, end uint64, records int) (*segment.CompactWriter, error) {
		return segment.NewCompactWriter(make([]byte, n), base, end, records)
	}
	wantWrite := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, segment.ErrCompactWrite) {
			t.Fatalf("%s: %v, want ErrCompactWrite", what, err)
		}
	}
	t.Run("new", func(t *testing.T) {
		for _, c := range []struct {
			name      string
			n         int64
			base, end uint64
			records   int
		}{
			{"empty range", size(r0), 8192, 8192, 1},
			{"range past max", size(r0), 8192, segment.MaxPosition + 8, 1},
			{"negative count", size(r0), 8192, src.end, -1},
			{"count too large for the bytes", size(r0), 8192, src.end, 1 << 20},
			{"too small for a record", segment.CompactedSize(96, 1), 8192, src.end, 1},
			{"size misaligned", size(r0) + 4, 8192, src.end, 1},
			{"bytes but no records", size(r0), 8192, src.end, 0},
			{"more record bytes than the range", size(r0, r1), 8192, 8192 + uint64(len(r0.raw)), 2},
		} {
			if _, err := newW(t, c.n, c.base, c.end, c.records); err == nil {
				t.Errorf("%s: accepted", c.name)
			} else {
				wantWrite(t, c.name, err)
			}
		}
	})
	t.Run("add", func(t *testing.T) {
		w, err := newW(t, size(r0, r2), 8192, src.end, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(r2.raw, r2.pos); err != nil {
			t.Fatal(err)
		}
		wantWrite(t, "out of order", w.Add(r0.raw, r0.pos))
		wantWrite(t, "overlapping", w.Add(r2.raw, r2.pos+8))
		if _, err := w.Finish(0); err == nil {
			t.Fatal("Finish with a record missing")
		} else {
			wantWrite(t, "finish early", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		w, err := newW(t, size(r0, r1, r2), 8192, src.end, 3)
		if err != nil {
			t.Fatal(err)
		}
		err = w.Add(r1.raw, r1.pos+8) // the record does not claim that position
		wantCorrupt(t, err, 0)
		two := append(bytes.Clone(r0.raw), r1.raw...)
		wantWrite(t, "two records in one", w.Add(two[:len(r0.raw)+len(r1.raw)-8], r0.pos))
		err = w.Add(r0.raw[:len(r0.raw)-8], r0.pos) // its size claims more
		wantCorrupt(t, err, 0)
		bent := bytes.Clone(r0.raw)
		bent[segment.RecordHeaderSize] ^= 1
		err = w.Add(bent, r0.pos)
		wantCorrupt(t, err, 0)
		if err := w.Add(r0.raw, r0.pos); err != nil {
			t.Fatalf("a failed Add spoilt the writer: %v", err)
		}
	})
	t.Run("too many", func(t *testing.T) {
		w, err := newW(t, size(r0), 8192, src.end, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(r0.raw, r0.pos); err != nil {
			t.Fatal(err)
		}
		wantWrite(t, "one more", w.Add(r1.raw, r1.pos))
	})
	t.Run("too long for the space", func(t *testing.T) {
		// Sized for two records of r0's length; r1 is longer.
		if len(r1.raw) <= len(r0.raw) {
			t.Skip("records drawn the other way round")
		}
		w, err := newW(t, size(r0, r0), 8192, src.end, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(r0.raw, r0.pos); err != nil {
			t.Fatal(err)
		}
		wantWrite(t, "too long", w.Add(r1.raw, r1.pos))
	})
	t.Run("past the range end", func(t *testing.T) {
		// The range is long enough for r1's bytes but ends inside it.
		w, err := newW(t, size(r1), r1.pos-uint64(len(r1.raw)), r1.pos+8, 1)
		if err != nil {
			t.Fatal(err)
		}
		wantWrite(t, "past the end", w.Add(r1.raw, r1.pos))
	})
}
