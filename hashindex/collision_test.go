package hashindex

import (
	"strconv"
	"strings"
	"testing"
)

// streamNumber recovers n from streamID(n).
func streamNumber(t testing.TB, id []byte) int {
	n, err := strconv.Atoi(strings.TrimPrefix(string(id), "stream-"))
	if err != nil {
		t.Fatalf("unexpected stream ID %q", id)
	}
	return n
}

func TestForcedCollisions(t *testing.T) {
	same := Fingerprint{Hi: 0xdead_beef, Lo: 42}
	defer SetFingerprintFuncForTest(func([]byte) Fingerprint { return same })()

	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	const streams = 100 // grows 16 → 256 with one long cluster
	for n := range streams {
		mustPut(t, ix, n, 0)
	}
	for n := 0; n < streams; n += 3 {
		mustPut(t, ix, n, 5)
	}
	if ix.Len() != streams {
		t.Fatalf("Len = %d, want %d: colliding streams must keep separate slots", ix.Len(), streams)
	}
	for n := range streams {
		v := int64(0)
		if n%3 == 0 {
			v = 5
		}
		checkStream(t, ix, n, v)
	}
	checkAbsent(t, ix, streams) // probes the whole cluster, every match says no

	owners := make(map[int]bool)
	for fp, e := range ix.All() {
		if fp != same {
			t.Fatalf("All: fingerprint %v, want %v", fp, same)
		}
		owners[int(e.Tail>>versionBits)] = true
	}
	if len(owners) != streams {
		t.Fatalf("All: %d distinct streams, want %d", len(owners), streams)
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}

	// A nil MatchFunc trusts the fingerprint: it takes the first slot.
	e, ok, err := ix.Lookup(same, nil)
	if err != nil || !ok || e.Tail>>versionBits != 0 {
		t.Fatalf("Lookup with nil match = %+v %v %v, want stream 0 (first inserted)", e, ok, err)
	}
	mustClose(t, ix)
}

func TestWrapAroundProbeChains(t *testing.T) {
	// Every stream's home is slot 14 or 15 of 16, so the cluster wraps.
	defer SetFingerprintFuncForTest(func(id []byte) Fingerprint {
		n := streamNumber(t, id)
		return Fingerprint{Hi: 14 + uint64(n%2), Lo: uint64(n) + 1}
	})()

	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	const streams = 12 // the most 16 slots hold without growing
	for n := range streams {
		mustPut(t, ix, n, 0)
	}
	if ix.Slots() != 16 {
		t.Fatalf("Slots = %d, want 16 (no growth yet)", ix.Slots())
	}
	// Inserted in order into 14, 15, 0, 1, ..., 9.
	ix.mu.RLock()
	for k := range streams {
		i := uint64(14+k) & 15
		s := ix.t.slot(i)
		if got := slotFingerprint(s).Lo - 1; got != uint64(k) {
			t.Errorf("slot %d holds stream %d, want %d", i, got, k)
		}
	}
	ix.mu.RUnlock()
	for n := range streams {
		checkStream(t, ix, n, 0)
	}
	for n := streams; n < streams+4; n++ {
		checkAbsent(t, ix, n) // stops at the empty slot 10 after wrapping
	}
	// Overwrite a stream that lives past the wrap.
	mustPut(t, ix, 9, 3)
	checkStream(t, ix, 9, 3)
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}

	// The 13th stream grows the table; homes stay 14 and 15 in 32 slots,
	// so the cluster now runs 14..26 without wrapping.
	mustPut(t, ix, streams, 0)
	if ix.Slots() != 32 {
		t.Fatalf("Slots = %d, want 32", ix.Slots())
	}
	for n := range streams + 1 {
		v := int64(0)
		if n == 9 {
			v = 3
		}
		checkStream(t, ix, n, v)
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
}
