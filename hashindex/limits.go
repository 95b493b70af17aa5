package hashindex

import "fmt"

// MaxSlots is the largest table this platform maps: 2^56 slots on 64-bit
// (no practical limit), 2^24 on 32-bit. There a 2^24-slot table is one
// 768 MiB mapping, and a growth maps the next one beside the old: 2^25
// slots would need 1.5 GiB more, contiguous, in an address space of 2–4
// GiB that also holds the segments and the Go heap. So a 32-bit store
// holds StreamLimit() streams, about 12.6 million, and refuses new ones
// beyond that (ErrFull), rather than fail in a growth that cannot map.
const MaxSlots = 1 << (24 + 32*(^uint(0)>>63))

// formatMaxSlots bounds the slot count a header may give at all: it keeps
// HeaderSize+slots*SlotSize far from overflowing int64. A valid header
// above MaxSlots is a file made on a 64-bit machine (see Open).
const formatMaxSlots = 1 << 56

// maxSlots is MaxSlots unless a test lowered it (SetMaxSlotsForTest).
var maxSlots uint64 = MaxSlots

// SetMaxSlotsForTest lowers the largest table size (to reach the stream
// limit with a few hundred streams in tests of this and other packages)
// and returns a function restoring the previous one. It is not safe to
// call concurrently with any use of indexes.
func SetMaxSlotsForTest(n uint64) (restore func()) {
	old := maxSlots
	maxSlots = n
	return func() { maxSlots = old }
}

// StreamLimit is the number of streams an index holds at most on this
// platform: its largest table at the 3/4 load that makes a table grow.
// A Put of one more new stream fails with ErrFull.
func StreamLimit() uint64 { return maxSlots / 4 * 3 }

// SlotsFor returns the table size to build for streams streams: twice
// their count (half full, as a growth leaves a table), at least initial,
// rounded up to a power of two, but no larger than the largest table, which
// holds up to StreamLimit streams. More streams than that fail with ErrFull.
func SlotsFor(streams, initial uint64) (uint64, error) {
	if streams > StreamLimit() {
		return 0, fmt.Errorf("%w: %d streams, at most %d on this platform", ErrFull, streams, StreamLimit())
	}
	return roundSlots(min(max(2*streams, initial), maxSlots))
}
