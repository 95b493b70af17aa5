package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

const (
	// HeaderSize is the size of the segment file header; the first record
	// starts right after it.
	HeaderSize = 128

	// FormatVersion is the segment format this package reads and writes.
	FormatVersion = 1

	// FlagCompacted marks a compacted segment (header flags, not record
	// flags): its records are packed and found through a position map
	// (see compacted.go). It is the only header flag.
	FlagCompacted uint32 = 1 << 0

	magic = "SPOOLSEG"

	// HeaderFlagsAt and HeaderEndAt are the file offsets of the header's
	// Flags and End fields, for errors about them.
	HeaderFlagsAt = 12
	HeaderEndAt   = 40

	// Where the header's zero bytes begin: an ordinary segment uses
	// nothing past the creation time, a compacted one nothing past the map
	// checksum. The header checksum is at headerSumAt.
	reservedOrdinary  = 40
	reservedCompacted = 72
	headerSumAt       = 120
)

// Header is the decoded segment file header.
type Header struct {
	Version uint32 // format version
	Flags   uint32 // FlagCompacted or zero
	Base    uint64 // log position of the first record byte (of the range, when compacted)
	Size    uint64 // file size the segment was created with
	Created int64  // unix nanoseconds

	// A compacted segment's range and position map; zero in an ordinary
	// segment, whose range ends where the next segment begins.
	End       uint64 // log position just past the range the file covers
	MapOffset uint64 // file offset of the position map
	MapCount  uint64 // records in the file, one map entry each
	MapSum    uint64 // xxhash64 of the map's bytes
}

// Compacted reports whether the header is a compacted segment's.
func (h Header) Compacted() bool { return h.Flags&FlagCompacted != 0 }

// PutHeader encodes h into b[:HeaderSize], setting the magic, the format
// version and the checksum.
func PutHeader(b []byte, h Header) {
	b = b[:HeaderSize]
	clear(b)
	copy(b[0:8], magic)
	binary.LittleEndian.PutUint32(b[8:], FormatVersion)
	binary.LittleEndian.PutUint32(b[HeaderFlagsAt:], h.Flags)
	binary.LittleEndian.PutUint64(b[16:], h.Base)
	binary.LittleEndian.PutUint64(b[24:], h.Size)
	binary.LittleEndian.PutUint64(b[32:], uint64(h.Created))
	binary.LittleEndian.PutUint64(b[HeaderEndAt:], h.End)
	binary.LittleEndian.PutUint64(b[48:], h.MapOffset)
	binary.LittleEndian.PutUint64(b[56:], h.MapCount)
	binary.LittleEndian.PutUint64(b[64:], h.MapSum)
	binary.LittleEndian.PutUint64(b[headerSumAt:], xxhash.Sum64(b[:headerSumAt]))
}

// ReadHeader decodes and checks the header of a segment whose file is
// fileSize bytes long. For a compacted segment it checks that the map's
// place and size agree with the file's; the map's own bytes are checked by
// LoadPositionMap. Errors are *CorruptionError.
func ReadHeader(b []byte, fileSize int64) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, corruptf(0, "file of %d bytes is shorter than a segment header", len(b))
	}
	if string(b[0:8]) != magic {
		return Header{}, corruptf(0, "bad magic %q", b[0:8])
	}
	if sum := xxhash.Sum64(b[:headerSumAt]); sum != binary.LittleEndian.Uint64(b[headerSumAt:]) {
		return Header{}, corruptf(0, "header checksum mismatch")
	}
	h := Header{
		Version:   binary.LittleEndian.Uint32(b[8:]),
		Flags:     binary.LittleEndian.Uint32(b[HeaderFlagsAt:]),
		Base:      binary.LittleEndian.Uint64(b[16:]),
		Size:      binary.LittleEndian.Uint64(b[24:]),
		Created:   int64(binary.LittleEndian.Uint64(b[32:])),
		End:       binary.LittleEndian.Uint64(b[HeaderEndAt:]),
		MapOffset: binary.LittleEndian.Uint64(b[48:]),
		MapCount:  binary.LittleEndian.Uint64(b[56:]),
		MapSum:    binary.LittleEndian.Uint64(b[64:]),
	}
	switch {
	case h.Version != FormatVersion:
		return Header{}, corruptf(8, "format version %d, this build reads %d", h.Version, FormatVersion)
	case h.Size != uint64(fileSize):
		return Header{}, corruptf(24, "header says %d bytes, file has %d", h.Size, fileSize)
	case h.Flags&^FlagCompacted != 0:
		return Header{}, corruptf(HeaderFlagsAt, "unknown flags %#x", h.Flags)
	case h.Base > MaxPosition:
		return Header{}, corruptf(16, "base position %d out of range", h.Base)
	}
	reserved := reservedOrdinary
	if h.Compacted() {
		if err := checkCompacted(h); err != nil {
			return Header{}, err
		}
		reserved = reservedCompacted
	}
	for i, c := range b[reserved:headerSumAt] {
		if c != 0 {
			return Header{}, corruptf(int64(reserved+i), "reserved header byte is not zero")
		}
	}
	return h, nil
}

// checkCompacted checks the fields of a compacted header against each
// other and the file size (h.Size, already checked against the file). Every
// comparison is arranged so that hostile values cannot overflow.
func checkCompacted(h Header) error {
	const minMap = HeaderSize + RecordHeaderSize // no records: the end header only
	switch {
	case h.End <= h.Base || h.End > MaxPosition:
		// A compacted file replaces segments that covered at least one
		// byte of the log: an empty range is never written.
		return corruptf(HeaderEndAt, "compacted range [%d, %d) is empty or out of range", h.Base, h.End)
	case h.MapOffset%8 != 0 || h.MapOffset < minMap || h.MapOffset > h.Size:
		return corruptf(48, "map offset %d out of range (file of %d bytes)", h.MapOffset, h.Size)
	case h.MapCount > (h.Size-h.MapOffset)/MapEntrySize || h.MapOffset+h.MapCount*MapEntrySize != h.Size:
		return corruptf(56, "%d map entries at offset %d do not end the %d-byte file", h.MapCount, h.MapOffset, h.Size)
	}
	// Records are at least a header long, fill their space and are a
	// subset of the range: their bytes fit both.
	data := h.MapOffset - minMap
	if h.MapCount > data/RecordHeaderSize || (h.MapCount == 0) != (data == 0) || data > h.End-h.Base {
		return corruptf(56, "%d records in %d bytes of a %d-byte range", h.MapCount, data, h.End-h.Base)
	}
	return nil
}

// FileName is the name of the segment starting at log position base: zero
// padded hex, so that a sorted listing is log order.
func FileName(base uint64) string { return fmt.Sprintf("%016x.seg", base) }

// ParseFileName returns the base position encoded in a segment file name.
func ParseFileName(name string) (uint64, bool) {
	var base uint64
	if len(name) != 20 || name[16:] != ".seg" {
		return 0, false
	}
	for _, c := range name[:16] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = byte(c - '0')
		case c >= 'a' && c <= 'f':
			d = byte(c-'a') + 10
		default:
			return 0, false
		}
		base = base<<4 | uint64(d)
	}
	return base, true
}
