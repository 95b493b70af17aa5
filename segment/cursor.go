package segment

// Cursor reads the records of a sealed segment, ordinary or compacted, in
// position order, verifying each one: compaction and recovery read any
// sealed segment the same way.
//
// In an ordinary segment the records fill the range [Base, end) exactly
// (end being where the next segment begins) and end with a complete batch:
// a zero header, a record that crosses end or a trailing record with
// FlagContinues inside the range is corruption. In a compacted segment
// the position map drives the walk, and each record must fill its slot
// exactly; batches are not checked there: compaction may drop the last
// record of a batch that was complete and acknowledged long before, so
// FlagContinues means nothing in a compacted file.
type Cursor struct {
	file []byte
	base uint64
	m    PositionMap // compacted only
	comp bool

	next int   // compacted: the map index of the next record
	off  int64 // ordinary: the file offset of the next record
	stop int64 // ordinary: the file offset where the range ends

	pos    uint64 // the current record's position
	curOff int64  // and its file offset
	n      int    // and its padded length
	rec    Record
	err    error
}

// NewCursor returns a cursor at the first record of file, the whole
// segment whose header h was read by ReadHeader. end is the log position
// where the segment's range ends: the next segment's base. A compacted
// segment's header says it too, and must agree. Errors are
// *CorruptionError (or ErrNotCompacted, never for a compacted header).
func NewCursor(file []byte, h Header, end uint64) (*Cursor, error) {
	c := &Cursor{file: file, base: h.Base, comp: h.Compacted()}
	if uint64(len(file)) != h.Size {
		return nil, corruptf(24, "header says %d bytes, file has %d", h.Size, len(file))
	}
	if c.comp {
		if end != h.End {
			return nil, corruptf(HeaderEndAt, "compacted range ends at %d, but the next segment starts at %d", h.End, end)
		}
		m, err := LoadPositionMap(file, h)
		if err != nil {
			return nil, err
		}
		c.m = m
		return c, nil
	}
	if len(file) < HeaderSize || end < h.Base || end-h.Base > uint64(len(file)-HeaderSize) {
		return nil, corruptf(24, "segment range [%d, %d) does not fit its %d bytes", h.Base, end, len(file))
	}
	c.off, c.stop = HeaderSize, HeaderSize+int64(end-h.Base)
	return c, nil
}

// Seek makes the next record the first one at position pos or after it,
// and forgets an earlier error. In an ordinary segment, which has no map,
// pos must be where a record starts or where the range ends (a position
// read from a record or a checkpoint); any other position inside the
// range makes Next report corruption there.
func (c *Cursor) Seek(pos uint64) {
	c.err = nil
	if c.comp {
		c.next = c.m.Search(pos)
		return
	}
	switch {
	case pos <= c.base:
		c.off = HeaderSize
	case pos-c.base >= uint64(c.stop-HeaderSize):
		c.off = c.stop
	default:
		c.off = HeaderSize + int64(pos-c.base)
	}
}

// Next moves to the next record and reports whether there is one. It
// returns false at the end of the segment and on damage; Err tells which.
func (c *Cursor) Next() bool {
	if c.err != nil {
		return false
	}
	if c.comp {
		return c.nextCompacted()
	}
	return c.nextOrdinary()
}

func (c *Cursor) nextCompacted() bool {
	if c.next >= c.m.Len() {
		return false
	}
	pos, off := c.m.At(c.next)
	_, end := c.m.slot(c.next)
	// Decoding within the slot keeps a record from claiming its
	// neighbour's bytes.
	n, err := Decode(c.file[:end], off, pos, &c.rec)
	if err == nil && int64(n) != end-off {
		err = corruptf(off, "record of %d bytes in a %d-byte slot of the position map", n, end-off)
	}
	if err != nil {
		c.err = err
		return false
	}
	c.next++
	c.pos, c.curOff, c.n = pos, off, n
	return true
}

func (c *Cursor) nextOrdinary() bool {
	if c.off >= c.stop {
		return false
	}
	off := c.off
	pos := c.base + uint64(off-HeaderSize)
	if IsEnd(c.file[off:c.stop]) && c.stop-off >= RecordHeaderSize {
		c.err = corruptf(off, "zero record header at position %d, inside the segment's range that ends at %d",
			pos, c.base+uint64(c.stop-HeaderSize))
		return false
	}
	n, err := Decode(c.file[:c.stop], off, pos, &c.rec)
	if err == nil && off+int64(n) == c.stop && c.rec.Flags&FlagContinues != 0 {
		err = corruptf(off, "the segment's last batch is incomplete: a batch never spans segments")
	}
	if err != nil {
		c.err = err
		return false
	}
	c.off += int64(n)
	c.pos, c.curOff, c.n = pos, off, n
	return true
}

// Err is the damage that stopped the cursor, a *CorruptionError at the
// damaged record's file offset, or nil at the end of the segment.
func (c *Cursor) Err() error { return c.err }

// Pos is the current record's log position.
func (c *Cursor) Pos() uint64 { return c.pos }

// Offset is the current record's file offset.
func (c *Cursor) Offset() int64 { return c.curOff }

// Record is the current record, verified. It and its byte fields alias the
// file and stay valid until the next call of Next.
func (c *Cursor) Record() *Record { return &c.rec }

// Raw is the current record's bytes as they are in the file, padding
// included: what compaction copies.
func (c *Cursor) Raw() []byte { return c.file[c.curOff : c.curOff+int64(c.n) : c.curOff+int64(c.n)] }
