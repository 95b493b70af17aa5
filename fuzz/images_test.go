package fuzz

import (
	"encoding/binary"
	"fmt"
	"maps"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/segment"
)

// This file builds and re-seals on-disk images. The fuzz targets use the
// sealing functions so that mutated bytes still pass the checksums and reach
// the semantic checks behind them (back-pointers, versions, probe order);
// without sealing, almost every mutation dies at the first checksum. The seed
// generator uses the builders.

var le = binary.LittleEndian

// Limits on what one fuzz input may make, so that every input does bounded
// work whatever its length fields say.
const (
	maxFileSize  = 1 << 20 // one file of a fuzzed directory
	maxFiles     = 8       // files in a fuzzed directory
	maxPadding   = 64 << 10
	recordCksum  = 0  // record checksum field
	recordSize   = 8  // record size field
	recordPos    = 16 // record position field
	recordPrev   = 24
	recordSkip   = 32
	recordSkipV  = 40
	recordVers   = 48
	recordTime   = 56
	recordSynced = 96
	// Index header and slot offsets, as drawn in hashindex/doc.go.
	idxSlots     = 16
	idxCount     = 24
	idxCkpt      = 32
	idxClean     = 40
	idxChecksum  = 56
	slotState    = 40
	slotCheck    = 44
	segHdrCreate = 32
	segHdrCksum  = 120
)

// sealSegmentHeader recomputes the checksum of a segment header in place,
// keeping every field as it is.
func sealSegmentHeader(b []byte) {
	if len(b) >= segment.HeaderSize {
		le.PutUint64(b[segHdrCksum:], xxhash.Sum64(b[:segHdrCksum]))
	}
}

// sealRecords walks the record frames of a segment image from file offset
// from and recomputes each record's checksum, stopping at a zero header or
// at a size that leaves the image. Fields are left as they are, so a record
// with an invalid back-pointer now fails Decode's field checks instead of
// its checksum.
func sealRecords(b []byte, from int64) {
	for off := from; off+segment.RecordHeaderSize <= int64(len(b)); {
		if segment.IsEnd(b[off:]) {
			return
		}
		size := int64(le.Uint32(b[off+recordSize:]))
		if size < segment.RecordHeaderSize || off+size > int64(len(b)) {
			return
		}
		sum := xxhash.Sum64(b[off+8 : off+size])
		if sum == 0 {
			sum = 1 // as segment.checksum: a zero checksum never verifies
		}
		le.PutUint64(b[off+recordCksum:], sum)
		off += (size + 7) &^ 7
	}
}

// sealIndex recomputes the header checksum and the checksum of every
// non-empty slot of an index image in place.
func sealIndex(b []byte) {
	if len(b) < hashindex.HeaderSize {
		return
	}
	le.PutUint64(b[idxChecksum:], xxhash.Sum64(b[:idxChecksum]))
	for off := hashindex.HeaderSize; off+hashindex.SlotSize <= len(b); off += hashindex.SlotSize {
		s := b[off : off+hashindex.SlotSize]
		if le.Uint64(s[0:]) == 0 && le.Uint64(s[8:]) == 0 {
			continue // an empty slot has no checksum; nonzero rest is damage to keep
		}
		le.PutUint32(s[slotCheck:], uint32(xxhash.Sum64(s[:slotCheck])))
	}
}

// putSlot encodes a slot as hashindex does (see its doc.go).
func putSlot(s []byte, fp hashindex.Fingerprint, e hashindex.Entry) {
	le.PutUint64(s[0:], fp.Hi)
	le.PutUint64(s[8:], fp.Lo)
	le.PutUint64(s[16:], e.Tail)
	le.PutUint64(s[24:], uint64(e.Version))
	le.PutUint64(s[32:], e.Aux)
	s[slotState] = byte(e.State)
	s[41], s[42], s[43] = 0, 0, 0
	le.PutUint32(s[slotCheck:], uint32(xxhash.Sum64(s[:slotCheck])))
}

// indexImage builds an index file image with the given slot count (a power
// of two) and header fields; the slots are empty.
func indexImage(slots, count, checkpoint uint64, clean bool) []byte {
	b := make([]byte, hashindex.HeaderSize+int(slots)*hashindex.SlotSize)
	copy(b, "SPOOLIDX")
	le.PutUint32(b[8:], hashindex.FormatVersion)
	le.PutUint32(b[12:], 0x01020304)
	le.PutUint64(b[idxSlots:], slots)
	le.PutUint64(b[idxCount:], count)
	le.PutUint64(b[idxCkpt:], checkpoint)
	if clean {
		le.PutUint32(b[idxClean:], 1)
	}
	sealIndex(b)
	return b
}

// evSpec is one record for segBuilder.
type evSpec struct {
	stream, typ string
	data, meta  string
	cont        bool // FlagContinues: the batch goes on
}

// segBuilder writes a segment image the way the engine lays one out: a
// header, records with per-stream back-pointers and versions, and zeros.
type segBuilder struct {
	buf    []byte
	base   uint64
	off    int64
	heads  map[string]*segment.Record // newest record of each stream, for Prev
	all    map[uint64]*segment.Record // every record by position, for Skip
	synced uint64
}

func newSegBuilder(base uint64, size int) *segBuilder {
	b := &segBuilder{buf: make([]byte, size), base: base, off: segment.HeaderSize, heads: map[string]*segment.Record{}, all: map[uint64]*segment.Record{}}
	segment.PutHeader(b.buf, segment.Header{Base: base, Size: uint64(size), Created: 1_700_000_000_000_000_000})
	return b
}

// continueFrom makes b continue the streams of an earlier segment.
func (b *segBuilder) continueFrom(prev *segBuilder) {
	maps.Copy(b.heads, prev.heads)
	maps.Copy(b.all, prev.all)
	b.synced = prev.synced
}

func (b *segBuilder) pos() uint64 { return b.base + uint64(b.off-segment.HeaderSize) }

// add appends records; synced-through is what was written before the call,
// as a writer that syncs each batch would record.
func (b *segBuilder) add(evs ...evSpec) {
	for _, e := range evs {
		r := &segment.Record{
			Position:      b.pos(),
			Prev:          segment.NoPosition,
			Skip:          segment.NoPosition,
			Timestamp:     1_700_000_000_000_000_000 + int64(b.off),
			SyncedThrough: b.synced,
			Stream:        []byte(e.stream),
			Type:          []byte(e.typ),
			Data:          []byte(e.data),
			Metadata:      []byte(e.meta),
		}
		if e.cont {
			r.Flags |= segment.FlagContinues
		}
		le.PutUint64(r.ID[:], uint64(b.off))
		if h, ok := b.heads[e.stream]; ok {
			r.Prev, r.Version = h.Position, h.Version+1
			r.Skip, r.SkipVersion = segment.NextSkip(h, b.all[h.Skip])
		}
		n, err := segment.Encode(b.buf[b.off:], r)
		if err != nil {
			panic(fmt.Sprintf("segBuilder: %v", err))
		}
		b.off += int64(n)
		b.heads[e.stream] = r
		b.all[r.Position] = r
	}
	b.synced = b.pos()
}

// used is the image cut after the last record plus a zero header: what a
// file of that size would hold, for seeds that should stay small.
func (b *segBuilder) used() []byte {
	n := min(int(b.off)+segment.RecordHeaderSize, len(b.buf))
	return b.buf[:n]
}

// events makes n single-record batches spread over the given streams.
func events(n int, streams ...string) []evSpec {
	out := make([]evSpec, n)
	for i := range out {
		out[i] = evSpec{stream: streams[i%len(streams)], typ: "t", data: fmt.Sprintf("event-%d", i)}
	}
	return out
}
