package hashindex

import (
	"errors"
	"testing"
)

func TestMaxSlotsMatchesPlatform(t *testing.T) {
	want := uint64(1) << 56
	if ^uint(0)>>32 == 0 {
		want = 1 << 24 // 32-bit: 768 MiB in one mapping
	}
	if MaxSlots != want {
		t.Fatalf("MaxSlots = %d, want %d", uint64(MaxSlots), want)
	}
	if got := StreamLimit(); got != want/4*3 {
		t.Fatalf("StreamLimit() = %d, want %d", got, want/4*3)
	}
}

// TestFullAtLargestTable fills a table that cannot grow: the stream past
// the limit gets ErrFull, and nothing about the others changes.
func TestFullAtLargestTable(t *testing.T) {
	defer SetMaxSlotsForTest(64)()
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "idx", 16)
	defer mustClose(t, ix)
	limit := int(StreamLimit())
	if limit != 48 {
		t.Fatalf("StreamLimit() = %d with 64 slots, want 48", limit)
	}
	for n := range limit {
		mustPut(t, ix, n, 0)
	}
	if ix.Slots() != 64 {
		t.Fatalf("%d slots after %d streams, want 64", ix.Slots(), limit)
	}
	if ix.GrowthAhead() {
		t.Fatal("GrowthAhead at the largest table")
	}
	err := ix.Put(FingerprintString(streamID(limit)), entryOf(limit, 0), matchStream(limit))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Put of stream %d past the limit: %v, want ErrFull", limit, err)
	}
	if ix.Len() != limit || ix.Slots() != 64 {
		t.Fatalf("after the refused Put: %d streams in %d slots, want %d in 64", ix.Len(), ix.Slots(), limit)
	}
	checkAbsent(t, ix, limit)
	for n := range limit {
		mustPut(t, ix, n, 1) // streams it holds still take Puts
		checkStream(t, ix, n, 1)
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSlotsFor(t *testing.T) {
	defer SetMaxSlotsForTest(1024)()
	for _, c := range []struct {
		streams, initial, want uint64
		full                   bool
	}{
		{0, 0, MinSlots, false},
		{0, 100, 128, false},
		{10, 16, 32, false},
		{300, 16, 1024, false}, // twice is 600: 1024
		{600, 16, 1024, false}, // twice is past the largest: the largest, 3/4 full at most
		{768, 16, 1024, false},
		{769, 16, 0, true},
		{10, 1 << 20, 1024, false}, // an initial size above the largest is capped
	} {
		got, err := SlotsFor(c.streams, c.initial)
		if c.full {
			if !errors.Is(err, ErrFull) {
				t.Errorf("SlotsFor(%d, %d) = %d, %v; want ErrFull", c.streams, c.initial, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("SlotsFor(%d, %d) = %d, %v; want %d", c.streams, c.initial, got, err, c.want)
		}
	}
}

// TestOpenLargerThanPlatformIsInvalid: a table made on a 64-bit machine
// with more slots than this one maps is for a rebuild, like any index
// that cannot be used as it stands.
func TestOpenLargerThanPlatformIsInvalid(t *testing.T) {
	fs, _ := newFS(t)
	mustClose(t, mustCreate(t, fs, "idx", 256))
	restore := SetMaxSlotsForTest(128)
	_, err := Open(fs, "idx")
	restore()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open of 256 slots with a largest table of 128: %v, want ErrInvalid", err)
	}
	mustClose(t, mustOpen(t, fs, "idx"))
}
