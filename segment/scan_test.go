package segment_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/spooldb/spool/segment"
)

type scanned struct {
	off int64
	rec segment.Record
}

// batch appends a batch of k records (every one but the last with
// FlagContinues) and returns them.
func (sb *segBuilder) batch(t testing.TB, rng *rand.Rand, k, maxData int) []scanned {
	t.Helper()
	var out []scanned
	for i := range k {
		r := simpleRecord(rng, rng.IntN(maxData+1))
		if i < k-1 {
			r.Flags |= segment.FlagContinues
		}
		if rng.IntN(3) == 0 {
			r.Flags |= segment.FlagMetadata
		}
		r.SyncedThrough = rng.Uint64N(sb.pos() + 1)
		off := sb.add(t, r)
		out = append(out, scanned{off, *r})
	}
	return out
}

func (sb *segBuilder) batches(t testing.TB, rng *rand.Rand, sizes ...int) []scanned {
	t.Helper()
	var out []scanned
	for _, k := range sizes {
		out = append(out, sb.batch(t, rng, k, 300)...)
	}
	return out
}

// scanAll runs a scan and collects what fn saw, checking each record's
// position against its offset.
func scanAll(t testing.TB, s *segment.Scanner, seg []byte, base uint64, from int64) (segment.ScanResult, []scanned) {
	t.Helper()
	var got []scanned
	res, err := s.Scan(seg, base, from, func(off int64, r *segment.Record) error {
		if want := base + uint64(off-segment.HeaderSize); r.Position != want {
			t.Fatalf("record at offset %d has position %d, want %d", off, r.Position, want)
		}
		got = append(got, scanned{off, *r})
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if res.Records != len(got) {
		t.Fatalf("Records = %d, fn called %d times", res.Records, len(got))
	}
	return res, got
}

func sameScanned(t testing.TB, got, want []scanned) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("fn saw %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].off != want[i].off {
			t.Fatalf("record %d at offset %d, want %d", i, got[i].off, want[i].off)
		}
		if f := sameRecord(&got[i].rec, &want[i].rec); f != "" {
			t.Fatalf("record %d at offset %d: %s differs", i, got[i].off, f)
		}
	}
}

func maxSynced(recs []scanned) uint64 {
	var m uint64
	for _, r := range recs {
		m = max(m, r.rec.SyncedThrough)
	}
	return m
}

func checkResult(t testing.TB, res segment.ScanResult, end int64, records int, reason segment.EndReason, incomplete int64) {
	t.Helper()
	if res.End != end || res.Records != records || res.Reason != reason || res.IncompleteBytes != incomplete {
		t.Fatalf("got End %d Records %d Reason %v Incomplete %d; want %d %d %v %d",
			res.End, res.Records, res.Reason, res.IncompleteBytes, end, records, reason, incomplete)
	}
	if (res.Reason == segment.EndInvalid) != (res.Invalid != nil) {
		t.Fatalf("Reason %v with Invalid %v", res.Reason, res.Invalid)
	}
}

const scanBase = 1<<30 + 4096

func TestScanCleanEnd(t *testing.T) {
	rng := newRand(t, 40)
	sb := newSegBuilder(1<<16, scanBase)
	want := sb.batches(t, rng, 1, 3, 1, 5, 2, 1, 1, 8)
	var s segment.Scanner
	res, got := scanAll(t, &s, sb.buf, scanBase, segment.HeaderSize)
	checkResult(t, res, sb.off, len(want), segment.EndZero, 0)
	sameScanned(t, got, want)
	if res.SyncedThrough != maxSynced(want) {
		t.Fatalf("SyncedThrough %d, want %d", res.SyncedThrough, maxSynced(want))
	}
	if res.Reason.String() != "zeroed header" {
		t.Fatalf("EndZero prints as %q", res.Reason)
	}
}

func TestScanEmptySegment(t *testing.T) {
	var s segment.Scanner
	res, _ := scanAll(t, &s, make([]byte, 4096), 0, segment.HeaderSize)
	checkResult(t, res, segment.HeaderSize, 0, segment.EndZero, 0)
	res, _ = scanAll(t, &s, make([]byte, segment.HeaderSize), 0, segment.HeaderSize)
	checkResult(t, res, segment.HeaderSize, 0, segment.EndFull, 0)
}

func TestScanFullEnd(t *testing.T) {
	rng := newRand(t, 41)
	sb := newSegBuilder(1<<16, scanBase)
	want := sb.batches(t, rng, 2, 1, 4, 3)
	var s segment.Scanner

	// The batches fill the segment exactly.
	seg := sb.buf[:sb.off]
	res, got := scanAll(t, &s, seg, scanBase, segment.HeaderSize)
	checkResult(t, res, sb.off, len(want), segment.EndFull, 0)
	sameScanned(t, got, want)
	if res.Reason.String() != "segment full" {
		t.Fatalf("EndFull prints as %q", res.Reason)
	}

	// Fewer bytes than a record header remain, zero or not.
	for _, rest := range []int{1, 8, 64, segment.RecordHeaderSize - 1} {
		seg := append([]byte(nil), sb.buf[:sb.off]...)
		tail := make([]byte, rest)
		if rest%2 == 0 {
			fillGarbage(rng, tail)
		}
		seg = append(seg, tail...)
		res, got := scanAll(t, &s, seg, scanBase, segment.HeaderSize)
		checkResult(t, res, sb.off, len(want), segment.EndFull, 0)
		sameScanned(t, got, want)
	}
	// Exactly one zero header remains: that is a clean end, not a full one.
	res, _ = scanAll(t, &s, sb.buf[:sb.off+segment.RecordHeaderSize], scanBase, segment.HeaderSize)
	checkResult(t, res, sb.off, len(want), segment.EndZero, 0)
}

func TestScanTornLastRecord(t *testing.T) {
	rng := newRand(t, 42)
	sb := newSegBuilder(1<<16, scanBase)
	want := sb.batches(t, rng, 1, 2, 3)
	end := sb.off

	t.Run("single-record batch", func(t *testing.T) {
		sb := *sb
		sb.buf = append([]byte(nil), sb.buf...)
		torn := sb.batch(t, rng, 1, 500)
		sb.buf[torn[0].off+segment.RecordHeaderSize+3] ^= 0x40
		var s segment.Scanner
		res, got := scanAll(t, &s, sb.buf, scanBase, segment.HeaderSize)
		checkResult(t, res, end, len(want), segment.EndInvalid, 0)
		sameScanned(t, got, want)
		wantCorrupt(t, res.Invalid, end)
		if res.Reason.String() != "invalid record" {
			t.Fatalf("EndInvalid prints as %q", res.Reason)
		}
	})
	t.Run("last of a batch", func(t *testing.T) {
		sb := *sb
		sb.buf = append([]byte(nil), sb.buf...)
		torn := sb.batch(t, rng, 3, 500)
		last := torn[2]
		sb.buf[last.off+int64(last.rec.Len())-9] ^= 1 // last body byte or so
		var s segment.Scanner
		res, got := scanAll(t, &s, sb.buf, scanBase, segment.HeaderSize)
		checkResult(t, res, end, len(want), segment.EndInvalid, last.off-end)
		sameScanned(t, got, want)
		wantCorrupt(t, res.Invalid, last.off)
		if res.SyncedThrough != max(maxSynced(want), torn[0].rec.SyncedThrough, torn[1].rec.SyncedThrough) {
			t.Fatalf("SyncedThrough %d ignores the incomplete batch's valid records", res.SyncedThrough)
		}
	})
	t.Run("only the first sector reached the disk", func(t *testing.T) {
		sb := *sb
		sb.buf = append([]byte(nil), sb.buf...)
		r := simpleRecord(rng, 2000)
		off := sb.add(t, r)
		clear(sb.buf[off+512 : sb.off])
		var s segment.Scanner
		res, got := scanAll(t, &s, sb.buf, scanBase, segment.HeaderSize)
		checkResult(t, res, end, len(want), segment.EndInvalid, 0)
		sameScanned(t, got, want)
		wantCorrupt(t, res.Invalid, off)
	})
	t.Run("cut by the segment end", func(t *testing.T) {
		sb := *sb
		sb.buf = append([]byte(nil), sb.buf...)
		torn := sb.batch(t, rng, 1, 500)
		var s segment.Scanner
		for _, keep := range []int64{segment.RecordHeaderSize, segment.RecordHeaderSize + 1, int64(torn[0].rec.Len()) - 1} {
			res, got := scanAll(t, &s, sb.buf[:end+keep], scanBase, segment.HeaderSize)
			checkResult(t, res, end, len(want), segment.EndInvalid, 0)
			sameScanned(t, got, want)
			wantCorrupt(t, res.Invalid, end)
		}
	})
}

func TestScanIncompleteBatch(t *testing.T) {
	rng := newRand(t, 43)
	sb := newSegBuilder(1<<16, scanBase)
	want := sb.batches(t, rng, 2, 1, 3)
	end := sb.off
	partial := sb.batch(t, rng, 3, 200)[:2] // the batch's last record never made it
	clear(sb.buf[partial[1].off+int64(partial[1].rec.Len()):])
	partialBytes := partial[1].off + int64(partial[1].rec.Len()) - end

	var s segment.Scanner
	res, got := scanAll(t, &s, sb.buf, scanBase, segment.HeaderSize)
	checkResult(t, res, end, len(want), segment.EndZero, partialBytes)
	sameScanned(t, got, want)

	// The same at the very end of the segment.
	seg := sb.buf[:end+partialBytes]
	res, got = scanAll(t, &s, seg, scanBase, segment.HeaderSize)
	checkResult(t, res, end, len(want), segment.EndFull, partialBytes)
	sameScanned(t, got, want)

	// A segment holding nothing but an incomplete batch.
	sb2 := newSegBuilder(1<<12, 0)
	p := sb2.batch(t, rng, 5, 50)
	clear(sb2.buf[p[4].off:])
	res, got = scanAll(t, &s, sb2.buf, 0, segment.HeaderSize)
	checkResult(t, res, segment.HeaderSize, 0, segment.EndZero, p[4].off-segment.HeaderSize)
	if len(got) != 0 {
		t.Fatalf("fn saw %d records of an incomplete batch", len(got))
	}
}

func TestScanGarbageAfterValidPrefix(t *testing.T) {
	rng := newRand(t, 44)
	sb := newSegBuilder(1<<15, scanBase)
	want := sb.batches(t, rng, 3, 1, 2)
	end := sb.off
	var s segment.Scanner

	garbage := append([]byte(nil), sb.buf...)
	fillGarbage(rng, garbage[end:])
	res, got := scanAll(t, &s, garbage, scanBase, segment.HeaderSize)
	checkResult(t, res, end, len(want), segment.EndInvalid, 0)
	sameScanned(t, got, want)
	wantCorrupt(t, res.Invalid, end)

	// One non-zero byte in an otherwise zero header.
	for _, at := range []int64{0, 7, 8, 50, segment.RecordHeaderSize - 1} {
		b := append([]byte(nil), sb.buf...)
		b[end+at] = 1
		res, _ := scanAll(t, &s, b, scanBase, segment.HeaderSize)
		checkResult(t, res, end, len(want), segment.EndInvalid, 0)
	}

	// A stale record: valid bytes, but written for another position (an
	// earlier record copied here, or a record of another segment base).
	stale := append([]byte(nil), sb.buf...)
	first := want[0]
	copy(stale[end:], sb.buf[first.off:first.off+int64(first.rec.Len())])
	res, _ = scanAll(t, &s, stale, scanBase, segment.HeaderSize)
	checkResult(t, res, end, len(want), segment.EndInvalid, 0)
	wantCorrupt(t, res.Invalid, end)
	res, _ = scanAll(t, &s, sb.buf, scanBase+8, segment.HeaderSize)
	checkResult(t, res, segment.HeaderSize, 0, segment.EndInvalid, 0)
}

func TestScanFnError(t *testing.T) {
	rng := newRand(t, 45)
	sb := newSegBuilder(1<<15, scanBase)
	want := sb.batches(t, rng, 2, 3, 1, 4)
	stop := errors.New("stop here")
	for k := 1; k <= len(want); k++ {
		calls := 0
		var s segment.Scanner
		_, err := s.Scan(sb.buf, scanBase, segment.HeaderSize, func(off int64, r *segment.Record) error {
			calls++
			if off != want[calls-1].off {
				t.Fatalf("call %d at offset %d, want %d", calls, off, want[calls-1].off)
			}
			if calls == k {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Fatalf("Scan returned %v, want the callback's error", err)
		}
		if calls != k {
			t.Fatalf("fn called %d times after failing at call %d", calls, k)
		}
	}
}

func TestScanFromMiddle(t *testing.T) {
	rng := newRand(t, 46)
	sb := newSegBuilder(1<<15, scanBase)
	var batchStarts []int
	var want []scanned
	for _, k := range []int{2, 1, 3, 1, 2} {
		batchStarts = append(batchStarts, len(want))
		want = append(want, sb.batch(t, rng, k, 200)...)
	}
	var s segment.Scanner
	for _, i := range batchStarts {
		from := want[i].off
		res, got := scanAll(t, &s, sb.buf, scanBase, from)
		checkResult(t, res, sb.off, len(want)-i, segment.EndZero, 0)
		sameScanned(t, got, want[i:])
	}
	res, _ := scanAll(t, &s, sb.buf, scanBase, sb.off)
	checkResult(t, res, sb.off, 0, segment.EndZero, 0)

	// Starting inside a batch: the tail of that batch is still one batch.
	res, got := scanAll(t, &s, sb.buf, scanBase, want[batchStarts[2]+1].off)
	checkResult(t, res, sb.off, len(want)-batchStarts[2]-1, segment.EndZero, 0)
	sameScanned(t, got, want[batchStarts[2]+1:])

	// Starting off a record boundary is not a record.
	res, _ = scanAll(t, &s, sb.buf, scanBase, want[1].off+8)
	checkResult(t, res, want[1].off+8, 0, segment.EndInvalid, 0)
}

// A Scanner reused after a scan that ended in an incomplete batch must not
// carry that batch into the next scan.
func TestScannerReuse(t *testing.T) {
	rng := newRand(t, 47)
	sb := newSegBuilder(1<<14, 0)
	sb.batches(t, rng, 1, 2)
	partial := sb.batch(t, rng, 2, 100)[:1]
	clear(sb.buf[partial[0].off+int64(partial[0].rec.Len()):])

	sb2 := newSegBuilder(1<<14, 1<<20)
	want := sb2.batches(t, rng, 1, 3)

	var s segment.Scanner
	res, _ := scanAll(t, &s, sb.buf, 0, segment.HeaderSize)
	if res.IncompleteBytes == 0 {
		t.Fatal("setup: first scan has no incomplete batch")
	}
	res, got := scanAll(t, &s, sb2.buf, 1<<20, segment.HeaderSize)
	checkResult(t, res, sb2.off, len(want), segment.EndZero, 0)
	sameScanned(t, got, want)
}

func BenchmarkScan(b *testing.B) {
	rng := newRand(b, 48)
	sb := newSegBuilder(8<<20, 1<<32)
	records := 0
	for {
		k := 1 + rng.IntN(8)
		if sb.off+int64(k)*(segment.RecordHeaderSize+64+400) > int64(len(sb.buf))-segment.RecordHeaderSize {
			break
		}
		for i := range k {
			r := simpleRecord(rng, 40+rng.IntN(360))
			if i < k-1 {
				r.Flags = segment.FlagContinues
			}
			sb.add(b, r)
		}
		records += k
	}
	var s segment.Scanner
	n := 0
	fn := func(off int64, r *segment.Record) error { n += len(r.Data); return nil }
	b.SetBytes(sb.off - segment.HeaderSize)
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Scan(sb.buf, 1<<32, segment.HeaderSize, fn)
		if err != nil || res.Records != records || res.Reason != segment.EndZero {
			b.Fatalf("scan: %v %+v, want %d records", err, res, records)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(records), "ns/record")
}

// failingSource fails every read at or past off.
type failingSource struct {
	*bytes.Reader
	off int64
}

var errRead = errors.New("read failed")

func (f failingSource) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errRead
	}
	return f.Reader.ReadAt(p, off)
}

// A failed read stops ScanFile with its error, after the batches read
// before it; it is not mistaken for the end of the data.
func TestScanFileReadError(t *testing.T) {
	rng := newRand(t, 11)
	sb := newSegBuilder(1<<16, 0)
	want := sb.batches(t, rng, 1, 2, 1, 3)
	var s segment.Scanner
	s.SetReadSize(512)
	var got []scanned
	_, err := s.ScanFile(failingSource{bytes.NewReader(sb.buf), want[3].off + 600}, 0, segment.HeaderSize, func(off int64, r *segment.Record) error {
		got = append(got, scanned{off, *r})
		return nil
	})
	if !errors.Is(err, errRead) {
		t.Fatalf("ScanFile: %v, want the read error", err)
	}
	if len(got) == 0 || len(got) == len(want) {
		t.Fatalf("fn saw %d records before the failed read, want some of %d", len(got), len(want))
	}
}
