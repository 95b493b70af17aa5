package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/segment"
)

var le = binary.LittleEndian

func newRand(t testing.TB, seed uint64) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// fillGarbage fills b with non-zero pseudo-random bytes.
func fillGarbage(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.IntN(255)) + 1
	}
}

// randFlags returns one of the valid flag combinations: an event or a
// system record of each kind, continuing its batch or not.
func randFlags(rng *rand.Rand) segment.Flags {
	f := segment.Flags(rng.IntN(2)) * segment.FlagContinues
	switch rng.IntN(4) {
	case 1:
		f |= segment.FlagMetadata
	case 2:
		f |= segment.FlagMetadata | segment.FlagDeleted
	case 3:
		f |= segment.FlagMetadata | segment.FlagTombstone
	}
	return f
}

// randRecord returns a record that passes Decode's field checks at pos, with
// a body (stream + type + metadata + data) of bodyLen >= 1 bytes.
func randRecord(rng *rand.Rand, pos uint64, bodyLen int) *segment.Record {
	if bodyLen < 1 {
		panic("bodyLen < 1")
	}
	r := &segment.Record{
		Flags:     randFlags(rng),
		Position:  pos,
		Prev:      segment.NoPosition,
		Skip:      segment.NoPosition,
		Timestamp: int64(rng.Uint64()),
	}
	switch rng.IntN(4) {
	case 0:
		r.Version = 0
	case 1:
		r.Version = 1<<63 - 1
	default:
		r.Version = rng.Int64N(1 << 40)
	}
	// SkipVersion of a record without a skip pointer is not interpreted, but
	// must survive the round trip.
	r.SkipVersion = rng.Uint64()
	if pos > 0 && rng.IntN(4) != 0 {
		r.Prev = rng.Uint64N(pos)
		if r.Version > 0 && rng.IntN(3) != 0 && r.Flags&segment.FlagMetadata == 0 {
			r.Skip = rng.Uint64N(pos)
			r.SkipVersion = rng.Uint64N(uint64(r.Version))
		}
	}
	r.SyncedThrough = rng.Uint64N(pos + 1)
	copy(r.ID[:], randBytes(rng, 16))

	// Split the body: stream gets at least one byte.
	streamLen := 1 + rng.IntN(min(bodyLen, 300))
	rest := bodyLen - streamLen
	typeLen := rng.IntN(min(rest, 60) + 1)
	rest -= typeLen
	metaLen := 0
	if rng.IntN(2) == 0 {
		metaLen = rng.IntN(rest + 1)
	}
	dataLen := rest - metaLen
	r.Stream = randBytes(rng, streamLen)
	r.Type = randBytes(rng, typeLen)
	r.Metadata = randBytes(rng, metaLen)
	r.Data = randBytes(rng, dataLen)
	if metaLen == 0 && rng.IntN(2) == 0 {
		r.Metadata = nil // nil and empty encode the same
	}
	return r
}

// sameRecord reports the first field in which got differs from want.
func sameRecord(got, want *segment.Record) string {
	switch {
	case got.Flags != want.Flags:
		return "Flags"
	case got.Position != want.Position:
		return "Position"
	case got.Prev != want.Prev:
		return "Prev"
	case got.Skip != want.Skip:
		return "Skip"
	case got.SkipVersion != want.SkipVersion:
		return "SkipVersion"
	case got.Version != want.Version:
		return "Version"
	case got.Timestamp != want.Timestamp:
		return "Timestamp"
	case got.ID != want.ID:
		return "ID"
	case got.SyncedThrough != want.SyncedThrough:
		return "SyncedThrough"
	case !bytes.Equal(got.Stream, want.Stream):
		return "Stream"
	case !bytes.Equal(got.Type, want.Type):
		return "Type"
	case !bytes.Equal(got.Metadata, want.Metadata):
		return "Metadata"
	case !bytes.Equal(got.Data, want.Data):
		return "Data"
	}
	return ""
}

// wantCorrupt checks that err is a *CorruptionError at offset off that
// unwraps to ErrCorrupt, and returns it.
func wantCorrupt(t testing.TB, err error, off int64) *segment.CorruptionError {
	t.Helper()
	if err == nil {
		t.Fatalf("want a corruption error at offset %d, got nil", off)
	}
	var ce *segment.CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *CorruptionError", err, err)
	}
	if !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("errors.Is(%v, ErrCorrupt) is false", err)
	}
	if ce.Offset != off {
		t.Fatalf("corruption at offset %d, want %d (%v)", ce.Offset, off, err)
	}
	if ce.Reason == "" {
		t.Fatalf("corruption error without a reason: %v", err)
	}
	return ce
}

// reseal recomputes the checksum of the record at the start of b the way
// the format defines it: xxhash64 of [8, size).
func reseal(b []byte) {
	size := le.Uint32(b[8:])
	le.PutUint64(b[0:], xxhash.Sum64(b[8:size]))
}

// segBuilder lays records out in a segment image as the writer does.
type segBuilder struct {
	buf  []byte
	base uint64
	off  int64
}

func newSegBuilder(size int, base uint64) *segBuilder {
	return &segBuilder{buf: make([]byte, size), base: base, off: segment.HeaderSize}
}

func (sb *segBuilder) pos() uint64 { return sb.base + uint64(sb.off-segment.HeaderSize) }

// add encodes r at the current end (setting its position) and returns the
// offset it was written at.
func (sb *segBuilder) add(t testing.TB, r *segment.Record) int64 {
	t.Helper()
	r.Position = sb.pos()
	if r.SyncedThrough > r.Position {
		r.SyncedThrough = r.Position
	}
	if r.Prev != segment.NoPosition && r.Prev >= r.Position {
		r.Prev, r.Skip = segment.NoPosition, segment.NoPosition
	}
	if r.Skip != segment.NoPosition && r.Skip >= r.Position {
		r.Skip = segment.NoPosition
	}
	at := sb.off
	n, err := segment.Encode(sb.buf[at:], r)
	if err != nil {
		t.Fatalf("Encode at %d: %v", at, err)
	}
	sb.off += int64(n)
	return at
}

// simpleRecord is a valid record of a small stream with dataLen bytes of data.
func simpleRecord(rng *rand.Rand, dataLen int) *segment.Record {
	r := &segment.Record{
		Prev:          segment.NoPosition,
		Skip:          segment.NoPosition,
		Version:       rng.Int64N(1000),
		Timestamp:     rng.Int64(),
		SyncedThrough: 0,
		Stream:        []byte("stream-" + string(rune('a'+rng.IntN(26)))),
		Type:          []byte("type"),
		Data:          randBytes(rng, dataLen),
	}
	copy(r.ID[:], randBytes(rng, 16))
	return r
}
