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

	magic = "SPOOLSEG"
)

// Header is the decoded segment file header.
type Header struct {
	Version uint32 // format version
	Flags   uint32 // reserved for compacted segments; zero today
	Base    uint64 // log position of the first record byte
	Size    uint64 // file size the segment was created with
	Created int64  // unix nanoseconds
}

// PutHeader encodes h into b[:HeaderSize], setting the magic, the format
// version and the checksum.
func PutHeader(b []byte, h Header) {
	b = b[:HeaderSize]
	clear(b)
	copy(b[0:8], magic)
	binary.LittleEndian.PutUint32(b[8:], FormatVersion)
	binary.LittleEndian.PutUint32(b[12:], h.Flags)
	binary.LittleEndian.PutUint64(b[16:], h.Base)
	binary.LittleEndian.PutUint64(b[24:], h.Size)
	binary.LittleEndian.PutUint64(b[32:], uint64(h.Created))
	binary.LittleEndian.PutUint64(b[120:], xxhash.Sum64(b[:120]))
}

// ReadHeader decodes and checks the header of a segment whose file is
// fileSize bytes long. Errors are *CorruptionError.
func ReadHeader(b []byte, fileSize int64) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, corruptf(0, "file of %d bytes is shorter than a segment header", len(b))
	}
	if string(b[0:8]) != magic {
		return Header{}, corruptf(0, "bad magic %q", b[0:8])
	}
	if sum := xxhash.Sum64(b[:120]); sum != binary.LittleEndian.Uint64(b[120:]) {
		return Header{}, corruptf(0, "header checksum mismatch")
	}
	h := Header{
		Version: binary.LittleEndian.Uint32(b[8:]),
		Flags:   binary.LittleEndian.Uint32(b[12:]),
		Base:    binary.LittleEndian.Uint64(b[16:]),
		Size:    binary.LittleEndian.Uint64(b[24:]),
		Created: int64(binary.LittleEndian.Uint64(b[32:])),
	}
	switch {
	case h.Version != FormatVersion:
		return Header{}, corruptf(8, "format version %d, this build reads %d", h.Version, FormatVersion)
	case h.Size != uint64(fileSize):
		return Header{}, corruptf(24, "header says %d bytes, file has %d", h.Size, fileSize)
	case h.Flags != 0:
		return Header{}, corruptf(12, "unknown flags %#x", h.Flags)
	case h.Base > MaxPosition:
		return Header{}, corruptf(16, "base position %d out of range", h.Base)
	}
	return h, nil
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
