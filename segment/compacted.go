package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// CompactedSize is the exact size of a compacted segment file holding
// records records of recordBytes bytes in all, padding included: header,
// records, zero record header, position map. The file is never larger:
// ReadHeader rejects slack.
func CompactedSize(recordBytes int64, records int) int64 {
	return HeaderSize + recordBytes + RecordHeaderSize + MapEntrySize*int64(records)
}

// CompactWriter lays out a compacted segment in a buffer of exactly
// CompactedSize bytes (a freshly created, zeroed file's mapping): Add the
// surviving records in position order, then Finish. It checks every
// record and the order, and returns errors rather than writing a file
// that would not load. It allocates nothing per record.
type CompactWriter struct {
	buf        []byte
	base, end  uint64 // the range the file covers
	mapOff     int64  // where the map starts
	dataEnd    int64  // where the records must end: mapOff - RecordHeaderSize
	off        int64  // where the next record goes
	n, records int    // records added, and expected
	next       uint64 // the first position the next record may have
	rec        Record // scratch for Decode
}

// NewCompactWriter returns a writer filling dst, which must be exactly
// CompactedSize(recordBytes, records) bytes for the records to come, with
// a compacted segment covering the log positions [base, end).
func NewCompactWriter(dst []byte, base, end uint64, records int) (*CompactWriter, error) {
	size := int64(len(dst))
	switch {
	case base >= end || end > MaxPosition:
		return nil, fmt.Errorf("%w: range [%d, %d) is empty or out of range", ErrCompactWrite, base, end)
	case records < 0 || int64(records) > size/(RecordHeaderSize+MapEntrySize):
		return nil, fmt.Errorf("%w: %d records cannot fit %d bytes", ErrCompactWrite, records, size)
	}
	data := size - CompactedSize(0, records)
	switch {
	case data < int64(records)*RecordHeaderSize || data%8 != 0 || (records == 0) != (data == 0):
		return nil, fmt.Errorf("%w: %d bytes is no compacted file of %d records", ErrCompactWrite, size, records)
	case uint64(data) > end-base:
		return nil, fmt.Errorf("%w: %d record bytes cannot come from the %d-byte range [%d, %d)", ErrCompactWrite, data, end-base, base, end)
	}
	mapOff := size - MapEntrySize*int64(records)
	return &CompactWriter{
		buf: dst, base: base, end: end,
		mapOff: mapOff, dataEnd: mapOff - RecordHeaderSize, off: HeaderSize,
		records: records, next: base,
	}, nil
}

// Add copies rec, the padded bytes of exactly one record as they are in
// its source segment, which must verify at log position pos. Positions
// must increase from record to record, and no record may overlap the
// previous one or pass the range end.
func (w *CompactWriter) Add(rec []byte, pos uint64) error {
	switch {
	case w.n == w.records:
		return fmt.Errorf("%w: record %d at position %d, sized for %d", ErrCompactWrite, w.n+1, pos, w.records)
	case pos < w.next:
		return fmt.Errorf("%w: record at position %d, the previous one ends at %d (range starts at %d)", ErrCompactWrite, pos, w.next, w.base)
	case int64(len(rec)) > w.dataEnd-w.off:
		return fmt.Errorf("%w: record of %d bytes at position %d, %d bytes left", ErrCompactWrite, len(rec), pos, w.dataEnd-w.off)
	}
	n, err := Decode(rec, 0, pos, &w.rec)
	if err != nil {
		return fmt.Errorf("segment: compacting the record at position %d: %w", pos, err)
	}
	switch {
	case n != len(rec):
		return fmt.Errorf("%w: %d bytes given at position %d, the record there is %d", ErrCompactWrite, len(rec), pos, n)
	case uint64(n) > w.end-pos:
		return fmt.Errorf("%w: record at position %d, %d bytes long, passes the range end %d", ErrCompactWrite, pos, n, w.end)
	}
	copy(w.buf[w.off:], rec)
	e := w.buf[w.mapOff+int64(w.n)*MapEntrySize:]
	binary.LittleEndian.PutUint64(e, pos)
	binary.LittleEndian.PutUint64(e[8:], uint64(w.off))
	w.off += int64(n)
	w.n++
	w.next = pos + uint64(n)
	return nil
}

// Finish writes the zero record header, the map checksum and the header,
// once every record was added, and returns the header as ReadHeader will
// read it. Nothing is synced.
func (w *CompactWriter) Finish(created int64) (Header, error) {
	if w.n != w.records || w.off != w.dataEnd {
		return Header{}, fmt.Errorf("%w: %d of %d records, %d of %d bytes added", ErrCompactWrite,
			w.n, w.records, w.off-HeaderSize, w.dataEnd-HeaderSize)
	}
	clear(w.buf[w.dataEnd:w.mapOff]) // the buffer may not be a fresh file
	h := Header{
		Version:   FormatVersion,
		Flags:     FlagCompacted,
		Base:      w.base,
		Size:      uint64(len(w.buf)),
		Created:   created,
		End:       w.end,
		MapOffset: uint64(w.mapOff),
		MapCount:  uint64(w.records),
		MapSum:    xxhash.Sum64(w.buf[w.mapOff:]),
	}
	PutHeader(w.buf, h)
	return h, nil
}
