package segment

import (
	"encoding/binary"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// MapEntrySize is the size of one position map entry: the record's log
// position and its file offset, both u64.
const MapEntrySize = 16

// PositionMap is a compacted segment's position map: for every record in
// the file, in position order, its log position and its file offset. It is
// a view of the file's bytes (nothing is copied), valid as long as they
// are.
type PositionMap struct {
	b       []byte // the entries
	dataEnd int64  // file offset where the records end (the zero header)
}

// LoadPositionMap checks the position map of file, the whole compacted
// segment whose header h was read by ReadHeader, and returns it. It checks
// everything the map says without reading the records: the map checksum;
// positions strictly increasing inside [h.Base, h.End); offsets 8-aligned,
// packed from HeaderSize up to the zero record header before the map, each
// record at least a record header long; and no record longer in the file
// than the positions up to the next one (or up to h.End) leave room for,
// since a record takes as many positions as bytes. The cost is one pass
// over the map.
//
// Whether each record is where the map says, of exactly its slot's length
// and intact, is checked when it is read: Decode at a Find offset with the
// position looked up verifies it, and a Cursor verifies every record and
// its length against its slot. Errors are *CorruptionError, except
// ErrNotCompacted for an ordinary segment's header.
func LoadPositionMap(file []byte, h Header) (PositionMap, error) {
	if !h.Compacted() {
		return PositionMap{}, ErrNotCompacted
	}
	if uint64(len(file)) != h.Size {
		return PositionMap{}, corruptf(24, "header says %d bytes, file has %d", h.Size, len(file))
	}
	// h may not come from ReadHeader: what indexing file relies on is
	// checked again.
	if err := checkCompacted(h); err != nil {
		return PositionMap{}, err
	}
	mapOff := int64(h.MapOffset)
	b := file[mapOff:]
	if xxhash.Sum64(b) != h.MapSum {
		return PositionMap{}, corruptf(mapOff, "position map checksum mismatch")
	}
	m := PositionMap{b: b, dataEnd: mapOff - RecordHeaderSize}
	if !IsEnd(file[m.dataEnd:mapOff]) {
		return PositionMap{}, corruptf(m.dataEnd, "no zero record header after the records")
	}
	if err := m.check(h, mapOff); err != nil {
		return PositionMap{}, err
	}
	return m, nil
}

// check checks the entries of m, found at file offset mapOff, against each
// other and h. All arithmetic is on values already bounded, so hostile
// entries cannot overflow it.
func (m PositionMap) check(h Header, mapOff int64) error {
	end := uint64(m.dataEnd) // records lie before this
	var prevPos, prevOff uint64
	for i := range m.Len() {
		at := mapOff + int64(i)*MapEntrySize
		pos := binary.LittleEndian.Uint64(m.b[i*MapEntrySize:])
		off := binary.LittleEndian.Uint64(m.b[i*MapEntrySize+8:])
		switch {
		case pos < h.Base || pos >= h.End:
			return corruptf(at, "map entry %d: position %d outside the range [%d, %d)", i, pos, h.Base, h.End)
		case off%8 != 0 || off > end-RecordHeaderSize:
			return corruptf(at, "map entry %d: record offset %d misaligned or past the records", i, off)
		case i == 0 && off != HeaderSize:
			return corruptf(at, "map entry 0: first record at offset %d, not %d", off, HeaderSize)
		case i > 0 && (off < prevOff || off-prevOff < RecordHeaderSize):
			return corruptf(at, "map entry %d: record offset %d does not follow the previous record at %d", i, off, prevOff)
		case i > 0 && (pos <= prevPos || pos-prevPos < off-prevOff):
			return corruptf(at, "map entry %d: position %d does not follow the previous record at %d (%d bytes long)", i, pos, prevPos, off-prevOff)
		}
		prevPos, prevOff = pos, off
	}
	if m.Len() > 0 && end-prevOff > h.End-prevPos {
		return corruptf(mapOff+int64(m.Len()-1)*MapEntrySize, "last record (%d bytes at position %d) passes the range end %d", end-prevOff, prevPos, h.End)
	}
	return nil
}

// Len is the number of records in the file.
func (m PositionMap) Len() int { return len(m.b) / MapEntrySize }

// At returns the position and file offset of record i, 0 <= i < Len.
func (m PositionMap) At(i int) (pos uint64, off int64) {
	e := m.b[i*MapEntrySize : i*MapEntrySize+MapEntrySize]
	return binary.LittleEndian.Uint64(e), int64(binary.LittleEndian.Uint64(e[8:]))
}

// slot returns the file bytes [off, end) that record i occupies: up to the
// next record, or to the zero header for the last one.
func (m PositionMap) slot(i int) (off, end int64) {
	_, off = m.At(i)
	if i+1 < m.Len() {
		_, end = m.At(i + 1)
		return off, end
	}
	return off, m.dataEnd
}

// Search returns the index of the first record at position pos or after
// it, Len if none: where a reader resuming at pos goes on.
func (m PositionMap) Search(pos uint64) int {
	return sort.Search(m.Len(), func(i int) bool {
		p, _ := m.At(i)
		return p >= pos
	})
}

// Find returns the file offset of the record at position pos. ok is false
// when no record of this file starts at pos: compaction removed it, or pos
// is not where a record starts.
func (m PositionMap) Find(pos uint64) (off int64, ok bool) {
	i := m.Search(pos)
	if i == m.Len() {
		return 0, false
	}
	p, off := m.At(i)
	return off, p == pos
}
