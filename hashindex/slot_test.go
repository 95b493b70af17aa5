package hashindex

import (
	"errors"
	"testing"
)

// lookupSlot returns the slot LookupSlot finds stream n in.
func lookupSlot(t *testing.T, ix *Index, n int) Slot {
	t.Helper()
	_, at, ok, err := ix.LookupSlot(FingerprintString(streamID(n)), matchStream(n))
	if err != nil || !ok {
		t.Fatalf("LookupSlot stream %d: ok=%v err=%v", n, ok, err)
	}
	return at
}

// countingMatch is stream n's MatchFunc, counting its calls.
func countingMatch(n int, calls *int) MatchFunc {
	return func(e Entry) (bool, error) {
		*calls++
		return matchStream(n)(e)
	}
}

func TestPutSlot(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	for n := range 6 {
		mustPut(t, ix, n, 0)
	}
	put := func(at Slot, n int, v int64) (matchCalls int) {
		t.Helper()
		if err := ix.PutSlot(at, FingerprintString(streamID(n)), entryOf(n, v), countingMatch(n, &matchCalls)); err != nil {
			t.Fatalf("PutSlot stream %d v%d: %v", n, v, err)
		}
		return matchCalls
	}

	t.Run("its own slot: no probe", func(t *testing.T) {
		for n := range 6 {
			if calls := put(lookupSlot(t, ix, n), n, 1); calls != 0 {
				t.Errorf("stream %d: match called %d times, want none", n, calls)
			}
			checkStream(t, ix, n, 1)
		}
		if ix.Len() != 6 {
			t.Fatalf("Len = %d, want 6", ix.Len())
		}
	})

	t.Run("another stream's slot: probes, overwrites nothing else", func(t *testing.T) {
		if calls := put(lookupSlot(t, ix, 1), 2, 2); calls == 0 {
			t.Error("match never called: the put trusted a slot holding another fingerprint")
		}
		checkStream(t, ix, 1, 1)
		checkStream(t, ix, 2, 2)
	})

	t.Run("zero slot: probes", func(t *testing.T) {
		if calls := put(Slot{}, 3, 3); calls == 0 {
			t.Error("match never called for the zero Slot")
		}
		checkStream(t, ix, 3, 3)
	})

	t.Run("slot from before a growth: probes the new table", func(t *testing.T) {
		stale := lookupSlot(t, ix, 4)
		slots := ix.Slots()
		for n := 6; ix.Slots() == slots; n++ {
			mustPut(t, ix, n, 0)
		}
		if calls := put(stale, 4, 4); calls == 0 {
			t.Error("match never called: the put trusted a slot of the table before the growth")
		}
		checkStream(t, ix, 4, 4)
		if err := ix.Validate(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("damaged slot: corruption", func(t *testing.T) {
		at := lookupSlot(t, ix, 5)
		// A byte of the entry, not of the fingerprint, which still matches:
		// the slot checksum does not.
		ix.t.slot(at.i)[sTail] ^= 0xff
		err := ix.PutSlot(at, FingerprintString(streamID(5)), entryOf(5, 5), matchStream(5))
		var ce *CorruptionError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("PutSlot into a damaged slot: %v, want a *CorruptionError", err)
		}
	})
}
