package recovery

import (
	"math/rand/v2"
	"os"
	"testing"

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
