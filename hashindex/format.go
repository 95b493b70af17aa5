package hashindex

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// File layout constants; doc.go draws them.
const (
	// HeaderSize is the fixed size of the header region. It is not the OS
	// page size, so a file written on a 4 KiB-page machine opens on a 16 KiB
	// or 64 KiB one.
	HeaderSize = 4096
	// SlotSize is the size of one slot. It is a multiple of 8, so every
	// 64-bit field of every slot is 8-byte aligned in the mapping.
	SlotSize = 48
	// FormatVersion is the on-disk format version this package writes and
	// reads.
	FormatVersion = 1
	// MinSlots is the smallest table Create makes (and Open accepts).
	MinSlots = 16

	magic = "SPOOLIDX"
	// byteOrderTag is stored little-endian; a writer that stored it in
	// big-endian native order leaves 04 03 02 01 when read back here.
	byteOrderTag = 0x01020304
)

// Header field offsets.
const (
	hMagic      = 0
	hVersion    = 8
	hByteOrder  = 12
	hSlots      = 16
	hCount      = 24
	hCheckpoint = 32
	hClean      = 40
	hLastLen    = 44
	hAnnotated  = 48
	hChecksum   = 56
	hEnd        = 64
)

// Slot field offsets.
const (
	sHi       = 0
	sLo       = 8
	sTail     = 16
	sVersion  = 24
	sAux      = 32
	sState    = 40
	sReserved = 41
	sCheck    = 44
)

var le = binary.LittleEndian

// header is the decoded mutable part of the header.
type header struct {
	slots      uint64
	count      uint64
	annotated  uint64 // slots whose Aux is not zero
	checkpoint uint64
	lastLen    uint32 // of the record ending at checkpoint; 0 when not recorded
	clean      bool
}

// fileSize is the exact size of an index file with n slots.
func fileSize(n uint64) int64 { return HeaderSize + int64(n)*SlotSize }

// roundSlots rounds a requested slot count up to a power of two >= MinSlots.
func roundSlots(n uint64) (uint64, error) {
	if n > maxSlots {
		return 0, fmt.Errorf("%w: %d slots asked for, the largest table here has %d", ErrFull, n, maxSlots)
	}
	if n <= MinSlots {
		return MinSlots, nil
	}
	return 1 << bits.Len64(n-1), nil
}

// encodeHeader writes h into b[0:hEnd] with its checksum. Bytes past hEnd
// are left as they are (zero since Create).
func encodeHeader(b []byte, h header) {
	b = b[:hEnd]
	copy(b[hMagic:], magic)
	le.PutUint32(b[hVersion:], FormatVersion)
	le.PutUint32(b[hByteOrder:], byteOrderTag)
	le.PutUint64(b[hSlots:], h.slots)
	le.PutUint64(b[hCount:], h.count)
	le.PutUint64(b[hCheckpoint:], h.checkpoint)
	var clean uint32
	if h.clean {
		clean = 1
	}
	le.PutUint32(b[hClean:], clean)
	le.PutUint32(b[hLastLen:], h.lastLen)
	le.PutUint64(b[hAnnotated:], h.annotated)
	le.PutUint64(b[hChecksum:], xxhash.Sum64(b[:hChecksum]))
}

// decodeHeader checks a whole mapped file b (header and size) and returns
// its header, or a reason why the file is unusable. Checks run in the order
// that names the most specific reason: the byte-order tag before the
// version, because a big-endian writer garbles the version too, and both
// before the checksum, because a future format may checksum differently.
func decodeHeader(b []byte) (header, string) {
	if len(b) < HeaderSize {
		return header{}, fmt.Sprintf("file is %d bytes, shorter than the %d-byte header (truncated)", len(b), HeaderSize)
	}
	if string(b[hMagic:hMagic+len(magic)]) != magic {
		return header{}, fmt.Sprintf("bad magic %q", b[hMagic:hMagic+len(magic)])
	}
	switch tag := le.Uint32(b[hByteOrder:]); tag {
	case byteOrderTag:
	case 0x04030201:
		return header{}, "byte-order tag shows a big-endian writer"
	default:
		return header{}, fmt.Sprintf("bad byte-order tag %#08x", tag)
	}
	if v := le.Uint32(b[hVersion:]); v != FormatVersion {
		return header{}, fmt.Sprintf("unsupported format version %d (want %d)", v, FormatVersion)
	}
	if got, want := le.Uint64(b[hChecksum:]), xxhash.Sum64(b[:hChecksum]); got != want {
		return header{}, fmt.Sprintf("header checksum %#016x, computed %#016x", got, want)
	}
	clean := le.Uint32(b[hClean:])
	if clean > 1 {
		return header{}, fmt.Sprintf("bad clean flag %d", clean)
	}
	h := header{
		slots:      le.Uint64(b[hSlots:]),
		count:      le.Uint64(b[hCount:]),
		annotated:  le.Uint64(b[hAnnotated:]),
		checkpoint: le.Uint64(b[hCheckpoint:]),
		lastLen:    le.Uint32(b[hLastLen:]),
		clean:      clean == 1,
	}
	if h.slots < MinSlots || h.slots > formatMaxSlots || h.slots&(h.slots-1) != 0 {
		return header{}, fmt.Sprintf("slot count %d is not a power of two in [%d, %d]", h.slots, MinSlots, uint64(formatMaxSlots))
	}
	// Compare in slots, not bytes, so nothing here can overflow.
	body := uint64(len(b) - HeaderSize)
	if body%SlotSize != 0 || body/SlotSize != h.slots {
		return header{}, fmt.Sprintf("file is %d bytes, want %d for %d slots", len(b), fileSize(h.slots), h.slots)
	}
	if h.count > h.slots {
		return header{}, fmt.Sprintf("count %d exceeds slot count %d", h.count, h.slots)
	}
	if h.annotated > h.count {
		return header{}, fmt.Sprintf("annotated count %d exceeds count %d", h.annotated, h.count)
	}
	// Log records are 8-byte aligned and lie below the checkpoint.
	if h.lastLen%8 != 0 || uint64(h.lastLen) > h.checkpoint {
		return header{}, fmt.Sprintf("last record length %d impossible at checkpoint %d", h.lastLen, h.checkpoint)
	}
	return h, ""
}

// encodeSlot writes a complete, checksummed slot into b[0:SlotSize].
func encodeSlot(b []byte, fp Fingerprint, e Entry) {
	b = b[:SlotSize]
	le.PutUint64(b[sHi:], fp.Hi)
	le.PutUint64(b[sLo:], fp.Lo)
	le.PutUint64(b[sTail:], e.Tail)
	le.PutUint64(b[sVersion:], uint64(e.Version))
	le.PutUint64(b[sAux:], e.Aux)
	b[sState] = byte(e.State)
	b[sReserved], b[sReserved+1], b[sReserved+2] = 0, 0, 0
	le.PutUint32(b[sCheck:], uint32(xxhash.Sum64(b[:sCheck])))
}

// slotFingerprint reads a slot's fingerprint without checking the slot.
func slotFingerprint(b []byte) Fingerprint {
	return Fingerprint{Hi: le.Uint64(b[sHi:]), Lo: le.Uint64(b[sLo:])}
}

// slotEntry decodes a slot's entry without checking the slot.
func slotEntry(b []byte) Entry {
	return Entry{
		Tail:    le.Uint64(b[sTail:]),
		Version: int64(le.Uint64(b[sVersion:])),
		Aux:     le.Uint64(b[sAux:]),
		State:   State(b[sState]),
	}
}

// checkSlot classifies the SlotSize bytes of b: empty (all zero), a valid
// entry (reason ""), or damaged (reason says how). Every slot read goes
// through it, because a damaged fingerprint could otherwise send a probe
// past the stream it is looking for.
func checkSlot(b []byte) (empty bool, reason string) {
	b = b[:SlotSize]
	if le.Uint64(b[sHi:]) == 0 && le.Uint64(b[sLo:]) == 0 {
		if le.Uint64(b[16:])|le.Uint64(b[24:])|le.Uint64(b[32:])|le.Uint64(b[40:]) != 0 {
			return false, "slot has a zero fingerprint but nonzero contents"
		}
		return true, ""
	}
	if got, want := le.Uint32(b[sCheck:]), uint32(xxhash.Sum64(b[:sCheck])); got != want {
		return false, fmt.Sprintf("slot checksum %#08x, computed %#08x", got, want)
	}
	if s := State(b[sState]); !s.valid() {
		return false, fmt.Sprintf("slot has invalid state %d", s)
	}
	if b[sReserved]|b[sReserved+1]|b[sReserved+2] != 0 {
		return false, "slot reserved bytes are not zero"
	}
	return false, ""
}
