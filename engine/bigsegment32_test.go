package engine

import (
	"errors"
	"math/bits"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

// TestLargestSegmentSizeOn32Bit: the largest segment size Options accept
// works on a 32-bit platform, past several rolls, and a larger one is
// refused at Open. 1 GiB segments used to validate there, and the store
// failed at its second roll, after ~2 GiB written: two segments under the
// default cap (raised to two segments) and the spare being prepared did
// not fit the address space ("mmapfile: map spare-...: cannot allocate
// memory"). Runs on 32-bit platforms only (CI: under qemu for arm), where
// it writes 1.25 GiB.
func TestLargestSegmentSizeOn32Bit(t *testing.T) {
	if bits.UintSize != 32 {
		t.Skip("a 64-bit address space holds any segment size Options accept")
	}
	if testing.Short() {
		t.Skip("writes 1.25 GiB")
	}
	if _, err := Open(t.TempDir(), &Options{SegmentSize: 1 << 30}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Open with 1 GiB segments on a 32-bit platform: %v, want ErrInvalidOptions", err)
	}
	s := openT(t, t.TempDir(), &Options{SegmentSize: maxSegmentSize, Durability: NoSync, SegmentPrep: mmapfile.PrepFallocate})
	defer closeT(t, s)
	data := make([]byte, 8<<20)
	for i := range 160 { // 1.25 GiB: five segments, the cap and a spare mapped
		if _, err := s.Append(bg, "big", Any, Event{Type: "t", Data: data}); err != nil {
			st := s.Stats()
			t.Fatalf("append %d (%d MiB written, %d segments, %d MiB mapped): %v", i, i*8, st.Segments, st.MappedBytes>>20, err)
		}
	}
}
