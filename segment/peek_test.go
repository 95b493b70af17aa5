package segment_test

import (
	"errors"
	"testing"

	"github.com/spooldb/spool/segment"
)

// TestPeek: Peek reads what Decode reads from intact records, still refuses
// bytes whose frame or position is wrong, and — unlike Decode — does not
// look at the checksum.
func TestPeek(t *testing.T) {
	rng := newRand(t, 7)
	for i := range 300 {
		pos := uint64(rng.IntN(1<<20)) * 8
		want := randRecord(rng, pos, 1+rng.IntN(400))
		seg := make([]byte, segment.RecordHeaderSize+2000)
		n, err := segment.Encode(seg, want)
		if err != nil {
			t.Fatal(err)
		}
		var dec, peek segment.Record
		if _, err := segment.Decode(seg, 0, pos, &dec); err != nil {
			t.Fatalf("record %d: Decode: %v", i, err)
		}
		m, err := segment.Peek(seg, 0, pos, &peek)
		if err != nil || m != n {
			t.Fatalf("record %d: Peek = %d, %v; want %d", i, m, err, n)
		}
		if f := sameRecord(&peek, &dec); f != "" {
			t.Fatalf("record %d: Peek and Decode differ in %s", i, f)
		}
		var key segment.Key
		if m, err := segment.PeekKey(seg, 0, pos, &key); err != nil || m != n ||
			string(key.Stream) != string(dec.Stream) || string(key.Type) != string(dec.Type) || key.Flags != dec.Flags {
			t.Fatalf("record %d: PeekKey = %d, %v, %q %q %v; want %d, %q %q %v", i, m, err,
				key.Stream, key.Type, key.Flags, n, dec.Stream, dec.Type, dec.Flags)
		}
		if _, err := segment.PeekKey(seg, 0, pos+8, &key); !errors.Is(err, segment.ErrCorrupt) {
			t.Fatalf("record %d: PeekKey at the wrong position: %v", i, err)
		}
		if _, err := segment.Peek(seg, 0, pos+8, &peek); !errors.Is(err, segment.ErrCorrupt) {
			t.Fatalf("record %d: Peek at the wrong position: %v", i, err)
		}
		seg[n-1] ^= 1 // body or padding: the checksum or padding check fails
		if _, err := segment.Decode(seg, 0, pos, &dec); !errors.Is(err, segment.ErrCorrupt) {
			t.Fatalf("record %d: Decode of a damaged record: %v", i, err)
		}
		if _, err := segment.Peek(seg, 0, pos, &peek); err != nil {
			t.Fatalf("record %d: Peek of a record with a bad checksum: %v", i, err)
		}
		seg[8] = 0xFF // size beyond the segment
		seg[9], seg[10], seg[11] = 0xFF, 0xFF, 0x7F
		if _, err := segment.Peek(seg, 0, pos, &peek); !errors.Is(err, segment.ErrCorrupt) {
			t.Fatalf("record %d: Peek of a record too large for its segment: %v", i, err)
		}
		if _, err := segment.PeekKey(seg, 0, pos, &key); !errors.Is(err, segment.ErrCorrupt) {
			t.Fatalf("record %d: PeekKey of a record too large for its segment: %v", i, err)
		}
	}
}
