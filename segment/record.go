package segment

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/internal/plant"
)

const (
	// RecordHeaderSize is the fixed part of every record.
	RecordHeaderSize = 104

	// NoPosition is the back-pointer and skip pointer of a stream's first
	// record.
	NoPosition uint64 = math.MaxUint64

	// MaxPosition bounds log positions, far above anything reachable, so
	// that position arithmetic can never overflow.
	MaxPosition uint64 = 1 << 62

	// MaxStreamLen, MaxTypeLen are the on-disk widths of those lengths.
	MaxStreamLen = math.MaxUint16
	MaxTypeLen   = math.MaxUint16
)

// Flags mark records.
type Flags uint16

const (
	// FlagContinues: the batch goes on with the next record.
	FlagContinues Flags = 1 << iota
	// FlagTombstone: a system record that hard-deletes the stream; no
	// record of the stream follows it.
	FlagTombstone
	// FlagDeleted: a system record that soft-deletes the stream (its
	// metadata truncates before the stream's next version).
	FlagDeleted
	// FlagMetadata: a system record, carrying the stream's metadata, not
	// an event. System records chain among themselves through Prev, have
	// no skip pointer, and their Version is the version the stream's next
	// event gets.
	FlagMetadata

	knownFlags = FlagContinues | FlagTombstone | FlagDeleted | FlagMetadata
)

// Record is a decoded record. Stream, Type, Metadata and Data alias the
// bytes they were decoded from.
type Record struct {
	Flags         Flags
	Position      uint64
	Prev          uint64
	Skip          uint64
	SkipVersion   uint64
	Version       int64
	Timestamp     int64
	ID            [16]byte
	SyncedThrough uint64

	Stream, Type, Metadata, Data []byte

	size uint32 // header + body, unpadded
}

// Len is the record's length on disk, padding included.
func (r *Record) Len() int { return align8(int(r.size)) }

// End is the log position just past the record.
func (r *Record) End() uint64 { return r.Position + uint64(r.Len()) }

// EncodedLen is the on-disk length of a record with bodies of these sizes.
func EncodedLen(streamLen, typeLen, metaLen, dataLen int) int {
	return align8(RecordHeaderSize + streamLen + typeLen + metaLen + dataLen)
}

func align8(n int) int { return (n + 7) &^ 7 }

// Encode writes r at the start of dst and returns its padded length. The
// size and checksum are computed; r's other fields are written as given.
// dst must hold EncodedLen bytes.
func Encode(dst []byte, r *Record) (int, error) {
	if len(r.Stream) > MaxStreamLen || len(r.Type) > MaxTypeLen ||
		uint64(len(r.Metadata)) > math.MaxUint32 || uint64(len(r.Data)) > math.MaxUint32 {
		return 0, ErrTooLarge
	}
	n := EncodedLen(len(r.Stream), len(r.Type), len(r.Metadata), len(r.Data))
	size := RecordHeaderSize + len(r.Stream) + len(r.Type) + len(r.Metadata) + len(r.Data)
	if n > len(dst) || uint64(size) > math.MaxUint32 {
		return 0, ErrTooLarge
	}
	b := dst[:n]
	le := binary.LittleEndian
	le.PutUint32(b[8:], uint32(size))
	le.PutUint16(b[12:], uint16(r.Flags))
	le.PutUint16(b[14:], uint16(len(r.Stream)))
	le.PutUint64(b[16:], r.Position)
	le.PutUint64(b[24:], r.Prev)
	le.PutUint64(b[32:], r.Skip)
	le.PutUint64(b[40:], r.SkipVersion)
	le.PutUint64(b[48:], uint64(r.Version))
	le.PutUint64(b[56:], uint64(r.Timestamp))
	copy(b[64:80], r.ID[:])
	le.PutUint16(b[80:], uint16(len(r.Type)))
	le.PutUint16(b[82:], 0)
	le.PutUint32(b[84:], uint32(len(r.Metadata)))
	le.PutUint32(b[88:], uint32(len(r.Data)))
	le.PutUint32(b[92:], 0)
	le.PutUint64(b[96:], r.SyncedThrough)
	o := RecordHeaderSize
	o += copy(b[o:], r.Stream)
	o += copy(b[o:], r.Type)
	o += copy(b[o:], r.Metadata)
	o += copy(b[o:], r.Data)
	clear(b[o:]) // padding: the mapping may hold stale bytes there
	le.PutUint64(b[0:], checksum(covered(b, int64(size))))
	r.size = uint32(size)
	return n, nil
}

// covered is what a record's checksum covers: everything after the
// checksum field itself up to the record's size, header included.
func covered(b []byte, size int64) []byte {
	if plant.On(plant.ChecksumSkipsHeader) {
		return b[RecordHeaderSize:size]
	}
	return b[8:size]
}

// checksum is the record checksum of b, the bytes [8, size) of a record:
// their xxhash64, except that a hash of zero is stored as one, so that a
// zeroed checksum field never verifies.
func checksum(b []byte) uint64 {
	if sum := xxhash.Sum64(b); sum != 0 {
		return sum
	}
	return 1
}

// IsEnd reports whether b starts with an all-zero record header: the end of
// the data in a segment (or fewer bytes than a header remain).
func IsEnd(b []byte) bool {
	if len(b) < RecordHeaderSize {
		return true
	}
	// The checksum comes first and is almost never zero: most calls end
	// at the first word. The rest is compared vectorised.
	if binary.LittleEndian.Uint64(b) != 0 {
		return false
	}
	return bytes.Equal(b[8:RecordHeaderSize], zeroHeader[8:])
}

var zeroHeader [RecordHeaderSize]byte

// Decode decodes and verifies the record at offset off of seg, a segment's
// bytes, which must be at log position pos. On success the record is in r
// and its padded length is returned. Damage is reported as a
// *CorruptionError at off. The size field is trusted only as far as the
// segment's bounds until the checksum has verified it; nothing is allocated.
func Decode(seg []byte, off int64, pos uint64, r *Record) (int, error) {
	b, size, err := frame(seg, off)
	if err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	if checksum(covered(b, size)) != le.Uint64(b[0:]) && !plant.On(plant.TrustLength) {
		return 0, corruptf(off, "record checksum mismatch")
	}
	// The checksum does not cover the reserved fields' meaning nor the
	// padding; both are zero as written, so that a record that decodes is
	// exactly the bytes Encode writes for it.
	if le.Uint16(b[82:]) != 0 || le.Uint32(b[92:]) != 0 {
		return 0, corruptf(off, "reserved record header field is not zero")
	}
	for _, c := range b[size:] {
		if c != 0 {
			return 0, corruptf(off, "record padding is not zero")
		}
	}
	return parse(b, off, size, pos, r)
}

// Peek decodes the record at offset off of seg like Decode, but without
// verifying its checksum, reserved fields and padding: for scans that only
// look at a record's header, stream and type to decide whether to skip it.
// Its fields are consistent (lengths add up, the position is pos) and lie
// within seg, but they are not verified: never return a peeked record's
// content; Decode it.
func Peek(seg []byte, off int64, pos uint64, r *Record) (int, error) {
	b, size, err := frame(seg, off)
	if err != nil {
		return 0, err
	}
	return parse(b, off, size, pos, r)
}

// frame returns the padded bytes of the record at off and its size, checked
// only against the segment's bounds.
func frame(seg []byte, off int64) ([]byte, int64, error) {
	if off < 0 || off > int64(len(seg))-RecordHeaderSize {
		return nil, 0, corruptf(off, "record header past the end of the segment")
	}
	b := seg[off:]
	size := int64(binary.LittleEndian.Uint32(b[8:]))
	padded := (size + 7) &^ 7 // int64: align8(int(size)) overflows a 32-bit int
	if size < RecordHeaderSize || padded > int64(len(b)) {
		return nil, 0, corruptf(off, "record size %d out of range", size)
	}
	return b[:padded], size, nil
}

// parse fills r from the record bytes b (padded) of the given size.
func parse(b []byte, off, size int64, pos uint64, r *Record) (int, error) {
	le := binary.LittleEndian
	streamLen := int64(le.Uint16(b[14:]))
	typeLen := int64(le.Uint16(b[80:]))
	metaLen := int64(le.Uint32(b[84:]))
	dataLen := int64(le.Uint32(b[88:]))
	if RecordHeaderSize+streamLen+typeLen+metaLen+dataLen != size {
		return 0, corruptf(off, "record lengths do not add up to its size %d", size)
	}
	*r = Record{
		Flags:         Flags(le.Uint16(b[12:])),
		Position:      le.Uint64(b[16:]),
		Prev:          le.Uint64(b[24:]),
		Skip:          le.Uint64(b[32:]),
		SkipVersion:   le.Uint64(b[40:]),
		Version:       int64(le.Uint64(b[48:])),
		Timestamp:     int64(le.Uint64(b[56:])),
		SyncedThrough: le.Uint64(b[96:]),
		size:          uint32(size),
	}
	copy(r.ID[:], b[64:80])
	o := int64(RecordHeaderSize)
	r.Stream = b[o : o+streamLen : o+streamLen]
	o += streamLen
	r.Type = b[o : o+typeLen : o+typeLen]
	o += typeLen
	r.Metadata = b[o : o+metaLen : o+metaLen]
	o += metaLen
	r.Data = b[o : o+dataLen : o+dataLen]
	if err := r.check(pos); err != "" {
		return 0, corruptf(off, "%s", err)
	}
	return r.Len(), nil
}

// check validates the fields a checksum cannot vouch for: a record with a
// valid checksum may still be stale (from an earlier use of the space) or
// written to the wrong place.
func (r *Record) check(pos uint64) string {
	switch {
	case r.Position != pos:
		return "record claims another log position (stale or misdirected bytes)"
	case r.Flags&^knownFlags != 0:
		return "unknown record flags"
	case r.Version < 0:
		return "negative stream version"
	case len(r.Stream) == 0:
		return "empty stream ID"
	case r.Prev != NoPosition && r.Prev >= r.Position:
		return "back-pointer does not point backwards"
	case r.Skip != NoPosition && (r.Skip >= r.Position || r.SkipVersion >= uint64(r.Version)):
		return "skip pointer does not point backwards"
	case r.Prev == NoPosition && r.Skip != NoPosition:
		return "skip pointer without a back-pointer"
	case r.Flags&(FlagDeleted|FlagTombstone) != 0 && r.Flags&FlagMetadata == 0:
		return "delete or tombstone flag on a record that is not a system record"
	case r.Flags&FlagDeleted != 0 && r.Flags&FlagTombstone != 0:
		return "record is both a delete and a tombstone"
	case r.Flags&FlagMetadata != 0 && r.Skip != NoPosition:
		return "system record with a skip pointer"
	case r.SyncedThrough > r.Position:
		return "synced-through position lies after the record"
	}
	return ""
}
