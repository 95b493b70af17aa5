package segment_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/spooldb/spool/segment"
)

func decodeSeeds(f *testing.F) {
	rng := newRand(f, 50)
	for _, bl := range []int{1, 7, 8, 9, 40, 300} {
		r := randRecord(rng, 4096, bl)
		b := encodeAt(f, r, 0, 0)
		f.Add(bytes.Clone(b), uint16(0))
		// Behind some bytes, followed by a zero header.
		withPrefix := append(make([]byte, 24), encodeAt(f, randRecord(rng, 4096, bl), 0, segment.RecordHeaderSize)...)
		f.Add(withPrefix, uint16(24))
		// Corrupted: a flipped body bit, a flipped size, cut short, dirty padding.
		c := bytes.Clone(b)
		c[len(c)-1] ^= 0x10
		f.Add(c, uint16(0))
		c = bytes.Clone(b)
		c[9] ^= 0x01
		f.Add(c, uint16(0))
		f.Add(b[:len(b)-3], uint16(0))
		f.Add(b[:segment.RecordHeaderSize], uint16(0))
	}
	f.Add(make([]byte, segment.RecordHeaderSize), uint16(0))
	f.Add([]byte{}, uint16(0))
}

// FuzzDecode: Decode never panics on any bytes at any offset; when it
// accepts a record, the record is exactly what Encode writes for it, and the
// same bytes do not verify at another position.
func FuzzDecode(f *testing.F) {
	decodeSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, off16 uint16) {
		off := int64(off16)
		// Let the input name its own position, so that accepted records are
		// not limited to those whose position the fuzzer guessed.
		var pos uint64
		if off+24 <= int64(len(data)) {
			pos = le.Uint64(data[off+16:])
		}
		var r, peeked segment.Record
		pn, perr := segment.Peek(data, off, pos, &peeked)
		if perr != nil {
			wantCorrupt(t, perr, off)
		} else if pn%8 != 0 || pn < segment.RecordHeaderSize || off+int64(pn) > int64(len(data)) {
			t.Fatalf("Peek returned length %d at %d of %d bytes", pn, off, len(data))
		}
		var key segment.Key
		kn, kerr := segment.PeekKey(data, off, pos, &key)
		if kerr != nil {
			wantCorrupt(t, kerr, off)
		} else if kn%8 != 0 || kn < segment.RecordHeaderSize || off+int64(kn) > int64(len(data)) {
			t.Fatalf("PeekKey returned length %d at %d of %d bytes", kn, off, len(data))
		}
		if perr == nil && (kerr != nil || kn != pn || string(key.Stream) != string(peeked.Stream) || string(key.Type) != string(peeked.Type)) {
			t.Fatalf("PeekKey (%d, %v) disagrees with Peek (%d)", kn, kerr, pn)
		}
		n, err := segment.Decode(data, off, pos, &r)
		if err == nil && (perr != nil || pn != n) {
			t.Fatalf("Decode accepted what Peek refused (%v) or with another length (%d, %d)", perr, n, pn)
		}
		if err != nil {
			wantCorrupt(t, err, off)
			if n != 0 {
				t.Fatalf("failed Decode returned %d", n)
			}
			return
		}
		if n%8 != 0 || n < segment.RecordHeaderSize || off+int64(n) > int64(len(data)) || n != r.Len() {
			t.Fatalf("Decode returned length %d (Len %d) at %d of %d bytes", n, r.Len(), off, len(data))
		}
		if r.End() != pos+uint64(n) {
			t.Fatalf("End %d, want %d", r.End(), pos+uint64(n))
		}
		again := bytes.Repeat([]byte{0xee}, n)
		m, err := segment.Encode(again, &r)
		if err != nil || m != n {
			t.Fatalf("re-encoding a decoded record: %d, %v (decoded %d)", m, err, n)
		}
		if !bytes.Equal(again, data[off:off+int64(n)]) {
			t.Fatalf("re-encoded record differs from the decoded bytes\n got %x\nwant %x", again, data[off:off+int64(n)])
		}
		var r2 segment.Record
		if _, err := segment.Decode(data, off, pos+8, &r2); err == nil {
			t.Fatal("record verified at two positions")
		}
	})
}

func scanSeeds(f *testing.F) {
	rng := newRand(f, 51)
	sb := newSegBuilder(4096, 1<<20)
	sb.batches(f, rng, 1, 2, 1, 3)
	f.Add(bytes.Clone(sb.buf[:sb.off+segment.RecordHeaderSize]), uint64(1<<20), uint16(segment.HeaderSize))
	f.Add(bytes.Clone(sb.buf[:sb.off]), uint64(1<<20), uint16(segment.HeaderSize))
	f.Add(bytes.Clone(sb.buf[:sb.off-5]), uint64(1<<20), uint16(segment.HeaderSize))
	part := newSegBuilder(2048, 0)
	part.batches(f, rng, 2)
	part.batch(f, rng, 3, 40)
	f.Add(bytes.Clone(part.buf[:part.off-40]), uint64(0), uint16(segment.HeaderSize))
	g := bytes.Clone(sb.buf[:sb.off+200])
	fillGarbage(rng, g[sb.off:])
	f.Add(g, uint64(1<<20), uint16(segment.HeaderSize))
	f.Add([]byte{}, uint64(0), uint16(0))
}

// FuzzScan: Scan never panics on any bytes; its result is consistent with
// the records it handed to fn.
func FuzzScan(f *testing.F) {
	scanSeeds(f)
	f.Fuzz(func(t *testing.T, seg []byte, base uint64, from16 uint16) {
		from := int64(from16) % (int64(len(seg)) + 1)
		var s segment.Scanner
		calls := 0
		next := from
		res, err := s.Scan(seg, base, from, func(off int64, r *segment.Record) error {
			if off != next {
				t.Fatalf("record at %d, expected the next one at %d", off, next)
			}
			if r.Position != base+uint64(off-segment.HeaderSize) {
				t.Fatalf("record at %d has position %d", off, r.Position)
			}
			next = off + int64(r.Len())
			calls++
			return nil
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		sameScanFile(t, seg, base, from, res)
		if res.End < from || res.End > int64(len(seg)) {
			t.Fatalf("End %d outside [%d, %d]", res.End, from, len(seg))
		}
		if res.IncompleteBytes < 0 || res.End+res.IncompleteBytes > int64(len(seg)) {
			t.Fatalf("End %d + incomplete %d past %d", res.End, res.IncompleteBytes, len(seg))
		}
		if res.Records != calls || (calls > 0 && next != res.End) || (calls == 0 && res.End != from) {
			t.Fatalf("Records %d End %d, fn saw %d records ending at %d", res.Records, res.End, calls, next)
		}
		if (res.Reason == segment.EndInvalid) != (res.Invalid != nil) {
			t.Fatalf("Reason %v, Invalid %v", res.Reason, res.Invalid)
		}
		stop := res.End + res.IncompleteBytes
		switch res.Reason {
		case segment.EndZero:
			if !segment.IsEnd(seg[stop:]) || int64(len(seg))-stop < segment.RecordHeaderSize {
				t.Fatalf("EndZero at %d, which is not a zero header", stop)
			}
		case segment.EndFull:
			if int64(len(seg))-stop >= segment.RecordHeaderSize {
				t.Fatalf("EndFull at %d of %d", stop, len(seg))
			}
		case segment.EndInvalid:
			wantCorrupt(t, res.Invalid, stop)
		}
	})
}

// sameScanFile checks that ScanFile over seg, read a few bytes at a time
// (the window moves within records and batches), finds what Scan found:
// res, and the same records, whose byte fields still hold their own
// bytes when fn sees them.
func sameScanFile(t *testing.T, seg []byte, base uint64, from int64, res segment.ScanResult) {
	t.Helper()
	var want []scanned
	var s segment.Scanner
	if _, err := s.Scan(seg, base, from, func(off int64, r *segment.Record) error {
		want = append(want, scanned{off, cloneRecord(r)})
		return nil
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	for _, n := range []int64{1, 200, 700, 4096} {
		var got []scanned
		s.SetReadSize(n)
		fres, err := s.ScanFile(bytes.NewReader(seg), base, from, func(off int64, r *segment.Record) error {
			got = append(got, scanned{off, cloneRecord(r)})
			return nil
		})
		if err != nil {
			t.Fatalf("ScanFile reading %d at a time: %v", n, err)
		}
		if !reflect.DeepEqual(fres, res) {
			t.Fatalf("ScanFile reading %d at a time: %+v (%v), Scan: %+v (%v)", n, fres, fres.Invalid, res, res.Invalid)
		}
		sameScanned(t, got, want)
	}
}

// cloneRecord copies r's byte fields out of the bytes they alias.
func cloneRecord(r *segment.Record) segment.Record {
	c := *r
	c.Stream, c.Type = bytes.Clone(r.Stream), bytes.Clone(r.Type)
	c.Metadata, c.Data = bytes.Clone(r.Metadata), bytes.Clone(r.Data)
	return c
}
