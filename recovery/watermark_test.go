package recovery

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// putRecord encodes a record claiming synced-through st at log position
// pos of a segment starting at base and returns its length.
func putRecord(t *testing.T, data []byte, base, pos, st uint64) int {
	t.Helper()
	r := segment.Record{Position: pos, Prev: segment.NoPosition, Skip: segment.NoPosition,
		SyncedThrough: st, Stream: []byte("s"), Type: []byte("t"), Data: []byte("payload")}
	n, err := segment.Encode(data[segment.HeaderSize+int64(pos-base):], &r)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProbeSyncedThrough(t *testing.T) {
	const base = 1 << 20
	page := uint64(os.Getpagesize())
	data := make([]byte, segment.HeaderSize+16*page)
	rng := rand.New(rand.NewPCG(1, 2))
	// Garbage right after the end, then zero pages, then records.
	for i := range 300 {
		data[segment.HeaderSize+i] = byte(rng.IntN(255) + 1)
	}
	if w := probeSyncedThrough(data, base, segment.HeaderSize); w != 0 {
		t.Fatalf("garbage only: %d, want 0", w)
	}
	pos := uint64(base + 5*page)
	pos += uint64(putRecord(t, data, base, pos, 700))
	putRecord(t, data, base, pos, 900)
	stale := base + 9*page // a record whose position field is wrong for where it lies
	putRecord(t, data, base, stale, 5000)
	copy(data[segment.HeaderSize+stale-base+8:], data[segment.HeaderSize+stale-base:segment.HeaderSize+stale-base+200])
	if w := probeSyncedThrough(data, base, segment.HeaderSize); w != 900 {
		t.Fatalf("got %d, want 900 (the highest of the records in place)", w)
	}
	if w := probeSyncedThrough(data, base, int64(segment.HeaderSize+16*page)); w != 0 {
		t.Fatalf("from the end: %d", w)
	}
}

// probeFile finds what probeSyncedThrough finds, and every byte it leaves
// outside [lo, hi) is zero, so that zeroTail over [lo, hi) zeroes what
// zeroTail over the whole tail would.
func TestProbeFile(t *testing.T) {
	const base = 1 << 20
	page := int64(os.Getpagesize())
	rng := rand.New(rand.NewPCG(3, 4))
	var v segment.View
	for round := range 200 {
		data := make([]byte, segment.HeaderSize+16*page+int64(rng.IntN(3))*8)
		for range rng.IntN(4) { // records, some overwritten by garbage
			pos := uint64(base + 8*rng.Int64N(14*page/8))
			putRecord(t, data, base, pos, rng.Uint64N(pos+1))
		}
		for range rng.IntN(3) {
			o := rng.Int64N(int64(len(data)))
			for i := o; i < min(o+rng.Int64N(300), int64(len(data))); i++ {
				data[i] = byte(rng.IntN(255) + 1)
			}
		}
		from := segment.HeaderSize + 8*rng.Int64N(int64(len(data)-segment.HeaderSize)/8)
		p, err := probeFile(&v, bytes.NewReader(data), base, from)
		if err != nil {
			t.Fatal(err)
		}
		if w := probeSyncedThrough(data, base, from); p.syncedThrough != w {
			t.Fatalf("round %d: probeFile says synced through %d, probeSyncedThrough %d", round, p.syncedThrough, w)
		}
		if p.lo < from || p.hi < p.lo || p.hi > int64(len(data)) {
			t.Fatalf("round %d: [%d, %d) outside [%d, %d)", round, p.lo, p.hi, from, len(data))
		}
		for i := from; i < int64(len(data)); i++ {
			if (i < p.lo || i >= p.hi) && data[i] != 0 {
				t.Fatalf("round %d: byte %d is not zero, outside [%d, %d)", round, i, p.lo, p.hi)
			}
		}
		whole, part := newTailFile(t, data), newTailFile(t, data)
		tw, err := zeroTail(whole, from, from, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		tp, err := zeroTail(part, from, p.lo, p.hi)
		if err != nil {
			t.Fatal(err)
		}
		if tw != tp || !bytes.Equal(whole.Bytes(), part.Bytes()) || whole.synced != part.synced {
			t.Fatalf("round %d: zeroTail over [%d, %d) zeroed %d bytes and synced %v, over the whole tail %d and %v",
				round, p.lo, p.hi, tp, part.synced, tw, whole.synced)
		}
	}
}

// tailFile is a mmapfile.File over a byte slice for zeroTail, noting what
// it syncs.
type tailFile struct {
	mmapfile.File // unused methods panic
	data          []byte
	synced        [2]int64
}

func newTailFile(t *testing.T, data []byte) *tailFile {
	t.Helper()
	return &tailFile{data: bytes.Clone(data)}
}

func (f *tailFile) Bytes() []byte { return f.data }
func (f *tailFile) Name() string  { return "tail" }
func (f *tailFile) Sync(off, n int64) error {
	f.synced = [2]int64{off, n}
	return nil
}
