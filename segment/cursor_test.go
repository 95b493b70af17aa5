package segment_test

import (
	"bytes"
	"testing"

	"github.com/spooldb/spool/segment"
)

// readAll runs c to its end and returns what it read and its error.
func readAll(c *segment.Cursor) ([]srcRec, error) {
	var got []srcRec
	for c.Next() {
		if c.Record().Position != c.Pos() || c.Record().Len() != len(c.Raw()) {
			panic("cursor's record disagrees with its position or bytes")
		}
		got = append(got, srcRec{c.Pos(), c.Raw()})
	}
	return got, c.Err()
}

func sameRecs(t *testing.T, got, want []srcRec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].pos != want[i].pos || !bytes.Equal(got[i].raw, want[i].raw) {
			t.Fatalf("record %d at %d, want the one at %d", i, got[i].pos, want[i].pos)
		}
	}
}

func TestCursorOrdinary(t *testing.T) {
	rng := newRand(t, 70)
	src := buildOrdinary(t, rng, 1<<33, 2, 1, 3, 1, 1)
	c, err := segment.NewCursor(src.file, src.h, src.end)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(c)
	if err != nil {
		t.Fatal(err)
	}
	sameRecs(t, got, src.recs)
	for i, r := range src.recs {
		off := int64(segment.HeaderSize + r.pos - src.h.Base)
		c.Seek(r.pos)
		if !c.Next() || c.Pos() != r.pos || c.Offset() != off {
			t.Fatalf("Seek(%d): at %d (offset %d), %v", r.pos, c.Pos(), c.Offset(), c.Err())
		}
		rest, err := readAll(c)
		if err != nil {
			t.Fatal(err)
		}
		sameRecs(t, rest, src.recs[i+1:])
	}
	for _, pos := range []uint64{0, src.h.Base} {
		c.Seek(pos)
		if got, err := readAll(c); err != nil || len(got) != len(src.recs) {
			t.Fatalf("Seek(%d): read %d records, %v", pos, len(got), err)
		}
	}
	for _, pos := range []uint64{src.end, src.end + 1, 1 << 62} {
		c.Seek(pos)
		if c.Next() || c.Err() != nil {
			t.Fatalf("Seek(%d) past the range: a record, or %v", pos, c.Err())
		}
	}
	// Inside a record: corruption there, not a wrong record.
	c.Seek(src.recs[1].pos + 8)
	if c.Next() {
		t.Fatal("read a record in the middle of another")
	}
	wantCorrupt(t, c.Err(), int64(segment.HeaderSize+src.recs[1].pos+8-src.h.Base))

	// An empty range is no record.
	c, err = segment.NewCursor(src.file, src.h, src.h.Base)
	if err != nil || c.Next() || c.Err() != nil {
		t.Fatalf("empty range: %v, %v", err, c.Err())
	}
}

func TestCursorOrdinaryDamage(t *testing.T) {
	rng := newRand(t, 71)
	src := buildOrdinary(t, rng, 4096, 1, 2, 1, 3)
	offOf := func(pos uint64) int64 { return int64(segment.HeaderSize + pos - src.h.Base) }
	last := src.recs[len(src.recs)-1]

	t.Run("range past the file", func(t *testing.T) {
		_, err := segment.NewCursor(src.file, src.h, src.h.Base+uint64(len(src.file)))
		wantCorrupt(t, err, 24)
		_, err = segment.NewCursor(src.file, src.h, src.h.Base-1)
		wantCorrupt(t, err, 24)
		_, err = segment.NewCursor(src.file[:1000], src.h, src.end)
		wantCorrupt(t, err, 24)
	})
	t.Run("range ends inside a record", func(t *testing.T) {
		c, _ := segment.NewCursor(src.file, src.h, last.pos+8)
		got, err := readAll(c)
		sameRecs(t, got, src.recs[:len(src.recs)-1])
		wantCorrupt(t, err, offOf(last.pos))
	})
	t.Run("zero header inside the range", func(t *testing.T) {
		c, _ := segment.NewCursor(src.file, src.h, src.end+4096)
		got, err := readAll(c)
		sameRecs(t, got, src.recs)
		ce := wantCorrupt(t, err, offOf(src.end))
		if !bytes.Contains([]byte(ce.Reason), []byte("zero record header")) {
			t.Fatalf("reason %q", ce.Reason)
		}
	})
	t.Run("less than a header left in the range", func(t *testing.T) {
		c, _ := segment.NewCursor(src.file, src.h, src.end+64)
		_, err := readAll(c)
		wantCorrupt(t, err, offOf(src.end))
	})
	t.Run("incomplete last batch", func(t *testing.T) {
		// Ending the range after the first record of the last batch (of 3).
		cut := src.recs[len(src.recs)-3]
		c, _ := segment.NewCursor(src.file, src.h, cut.pos+uint64(len(cut.raw)))
		got, err := readAll(c)
		sameRecs(t, got, src.recs[:len(src.recs)-3])
		wantCorrupt(t, err, offOf(cut.pos))
	})
	t.Run("damaged record", func(t *testing.T) {
		file := bytes.Clone(src.file)
		bad := src.recs[2]
		file[offOf(bad.pos)+segment.RecordHeaderSize] ^= 2
		c, _ := segment.NewCursor(file, src.h, src.end)
		got, err := readAll(c)
		sameRecs(t, got, src.recs[:2])
		wantCorrupt(t, err, offOf(bad.pos))
		if c.Next() {
			t.Fatal("Next after an error")
		}
	})
}

func TestCursorCompacted(t *testing.T) {
	rng := newRand(t, 72)
	src := buildOrdinary(t, rng, 1<<20, 1, 2, 1, 3, 2)
	kept := []srcRec{src.recs[1], src.recs[2], src.recs[5], src.recs[8]}
	file, h := compact(t, kept, 1<<20, src.end)

	if _, err := segment.NewCursor(file, h, src.end+8); err == nil {
		t.Fatal("a compacted range that disagrees with the next segment's base")
	} else {
		wantCorrupt(t, err, 40)
	}
	c, err := segment.NewCursor(file, h, src.end)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range src.recs {
		// Every source position resumes at the first kept record at or
		// after it.
		c.Seek(r.pos)
		got, err := readAll(c)
		if err != nil {
			t.Fatal(err)
		}
		var want []srcRec
		for _, k := range kept {
			if k.pos >= src.recs[i].pos {
				want = append(want, k)
			}
		}
		sameRecs(t, got, want)
	}

	t.Run("damaged record", func(t *testing.T) {
		b := bytes.Clone(file)
		m, _ := segment.LoadPositionMap(b, h)
		_, off := m.At(2)
		b[off+segment.RecordHeaderSize+1] ^= 0x10
		c, err := segment.NewCursor(b, h, src.end)
		if err != nil {
			t.Fatal(err) // the map is intact
		}
		got, err := readAll(c)
		sameRecs(t, got, kept[:2])
		wantCorrupt(t, err, off)
	})
	t.Run("record shorter than its slot", func(t *testing.T) {
		// Eight zero bytes after the second record (the third is far
		// enough away in positions for the map to allow it).
		b := crafted(1<<20, src.end, kept, []int{0, 0, 8, 0})
		hh, err := segment.ReadHeader(b, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := segment.NewCursor(b, hh, src.end)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(c)
		sameRecs(t, got, kept[:1])
		wantCorrupt(t, err, segment.HeaderSize+int64(len(kept[0].raw)))
	})
	t.Run("record longer than its slot", func(t *testing.T) {
		// Two records whose map entries leave the first one's slot short:
		// the map claims the second starts inside the first.
		a, b := kept[0], kept[2]
		f := crafted(1<<20, src.end, []srcRec{{a.pos, a.raw[:len(a.raw)-8]}, {b.pos, append(bytes.Clone(a.raw[len(a.raw)-8:]), b.raw...)}}, []int{0, 0})
		hh, err := segment.ReadHeader(f, int64(len(f)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := segment.NewCursor(f, hh, src.end)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAll(c)
		wantCorrupt(t, err, segment.HeaderSize)
	})
}
