package segment

import "encoding/binary"

// Key is what a selective scan looks at first to decide whether to skip a
// record: its stream ID, type and flags. Stream and Type alias the
// segment's bytes.
type Key struct {
	Stream, Type []byte
	Flags        Flags
}

// PeekKey reads the key of the record at offset off of seg, which must be
// at log position pos, and returns the record's padded length. It checks
// what skipping the record relies on — the frame lies within seg, the
// lengths add up, the record claims position pos, the stream ID is not
// empty — and nothing else: it is Peek without filling a whole Record, for
// scans that skip most records. Like Peek, never return a peeked record's
// content; Decode it.
func PeekKey(seg []byte, off int64, pos uint64, k *Key) (int, error) {
	b, size, err := frame(seg, off)
	if err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	streamLen := int64(le.Uint16(b[14:]))
	typeLen := int64(le.Uint16(b[80:]))
	metaLen := int64(le.Uint32(b[84:]))
	dataLen := int64(le.Uint32(b[88:]))
	switch {
	case RecordHeaderSize+streamLen+typeLen+metaLen+dataLen != size:
		return 0, corruptf(off, "record lengths do not add up to its size %d", size)
	case le.Uint64(b[16:]) != pos:
		return 0, corruptf(off, "record claims another log position (stale or misdirected bytes)")
	case streamLen == 0:
		return 0, corruptf(off, "empty stream ID")
	}
	o := int64(RecordHeaderSize)
	k.Stream = b[o : o+streamLen : o+streamLen]
	o += streamLen
	k.Type = b[o : o+typeLen : o+typeLen]
	k.Flags = Flags(le.Uint16(b[12:]))
	return align8(int(size)), nil
}
