package simfs

import (
	"fmt"
	"math/rand/v2"
)

// Corruption is a kind of damage Corrupt does to a device image.
type Corruption int

const (
	// BitFlip inverts one bit: bit rot.
	BitFlip Corruption = iota
	// ZeroSector zeroes the 512-byte sector holding the offset: a latent
	// sector error read back as zeros.
	ZeroSector
	// RandomSector fills that sector with random bytes: junk.
	RandomSector
	// MisdirectedPage puts into the 4 KiB page holding the offset the
	// content of another page of the file that differs from it: a write
	// that landed at the wrong place.
	MisdirectedPage
	// DroppedPage puts back what the page holding the offset held before
	// the last write that reached the device: a write the device
	// acknowledged and lost.
	DroppedPage
)

func (c Corruption) String() string {
	switch c {
	case BitFlip:
		return "bit-flip"
	case ZeroSector:
		return "zero-sector"
	case RandomSector:
		return "random-sector"
	case MisdirectedPage:
		return "misdirected-page"
	case DroppedPage:
		return "dropped-page"
	}
	return fmt.Sprintf("Corruption(%d)", int(c))
}

// Corrupt damages the device image of the durable file name at byte off,
// drawing what it needs from rng. Pages the page cache holds unchanged
// (not dirty) show the damage through Bytes too, as if read back; call it
// on an FS fresh from Crash to damage what the next Open reads.
func (fs *FS) Corrupt(name string, off int64, kind Corruption, rng *rand.Rand) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.frozen {
		return fmt.Errorf("simfs: corrupt %s: %w", name, ErrCrashed)
	}
	ino, ok := fs.durable[name]
	if !ok {
		return errNotDurable(name)
	}
	if off < 0 || off >= int64(len(ino.durable)) {
		return fmt.Errorf("simfs: corrupt %s at %d: outside its %d bytes", name, off, len(ino.durable))
	}
	p := int(off / PageSize)
	clean := !ino.dirty(ino.live, p)
	lo := int(off) &^ (SectorSize - 1)
	hi := min(lo+SectorSize, len(ino.durable))
	switch kind {
	case BitFlip:
		ino.durable[off] ^= 1 << rng.IntN(8)
	case ZeroSector:
		clear(ino.durable[lo:hi])
	case RandomSector:
		for i := lo; i < hi; i++ {
			ino.durable[i] = byte(rng.Uint32())
		}
	case MisdirectedPage:
		plo, phi := ino.span(p)
		var others []int
		for q := range ino.pages() {
			qlo, qhi := ino.span(q)
			if q != p && qhi-qlo == phi-plo && !same(ino.durable[qlo:qhi], ino.durable[plo:phi]) {
				others = append(others, q)
			}
		}
		if len(others) == 0 {
			return fmt.Errorf("%w: %v at %s offset %d", ErrNoSuchCorruption, kind, name, off)
		}
		qlo, qhi := ino.span(others[rng.IntN(len(others))])
		copy(ino.durable[plo:phi], ino.durable[qlo:qhi])
	case DroppedPage:
		old, ok := ino.before[p]
		if !ok {
			return fmt.Errorf("%w: %v at %s offset %d", ErrNoSuchCorruption, kind, name, off)
		}
		plo, phi := ino.span(p)
		copy(ino.durable[plo:phi], old)
		delete(ino.before, p) // what it held before that is not known
	default:
		return fmt.Errorf("simfs: unknown corruption %d", int(kind))
	}
	if clean {
		// Written with the program's own instrumented stores: the caller
		// must not race the program here, and the race detector says so.
		plo, phi := ino.span(p)
		copy(ino.live[plo:phi], ino.durable[plo:phi])
	}
	return nil
}
