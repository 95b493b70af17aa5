package segment

import "encoding/binary"

// EndReason says why a forward scan stopped.
type EndReason int

const (
	// EndZero: a zeroed record header follows the last batch (the normal end).
	EndZero EndReason = iota
	// EndFull: fewer bytes than a record header remain in the segment.
	EndFull
	// EndInvalid: the bytes after the last batch are neither zero nor a
	// valid record: a torn write of an unacknowledged group, or damage.
	EndInvalid
)

func (r EndReason) String() string {
	switch r {
	case EndZero:
		return "zeroed header"
	case EndFull:
		return "segment full"
	case EndInvalid:
		return "invalid record"
	}
	return "unknown"
}

// ScanResult describes a segment's valid prefix.
type ScanResult struct {
	// End is the file offset just past the last complete batch: the offset
	// the writer continues at.
	End int64
	// Records counts the records of complete batches.
	Records int
	// Reason says what follows End, or what follows the incomplete batch
	// when IncompleteBytes is not zero.
	Reason EndReason
	// Invalid tells what was wrong with the bytes where the scan stopped,
	// for EndInvalid.
	Invalid *CorruptionError
	// IncompleteBytes counts the bytes of valid records at End whose batch
	// lacks its last record; they are not part of the log.
	IncompleteBytes int64
	// SyncedThrough is the highest synced-through position read from a
	// valid record, incomplete batches included.
	SyncedThrough uint64
}

// Scanner walks a segment's records forward, batch by batch.
type Scanner struct {
	batch []Record
	view  View
}

// Scan decodes the records of seg, the bytes of a segment with base
// position base, from file offset from (HeaderSize for the whole segment),
// and calls fn for each record of each complete batch, in order. It stops
// at the first byte that does not continue the log and reports why. An
// error from fn stops the scan and is returned as is.
func (s *Scanner) Scan(seg []byte, base uint64, from int64, fn func(off int64, r *Record) error) (ScanResult, error) {
	s.view.SetBytes(seg)
	defer s.view.SetBytes(nil)
	return s.scan(base, from, fn)
}

// ScanFile is Scan over the segment src, read in pieces into a buffer the
// Scanner keeps (see View for why), with the same results. The records
// passed to fn alias that buffer: their slices are valid only during the
// call. A failed read stops the scan with its error.
func (s *Scanner) ScanFile(src Source, base uint64, from int64, fn func(off int64, r *Record) error) (ScanResult, error) {
	s.view.SetSource(src)
	defer s.view.SetBytes(nil) // keep the buffer, not the file
	return s.scan(base, from, fn)
}

func (s *Scanner) scan(base uint64, from int64, fn func(off int64, r *Record) error) (ScanResult, error) {
	v := &s.view
	res := ScanResult{End: from}
	off := from
	s.batch = s.batch[:0]
	moves := v.Moves()
	for {
		if off+RecordHeaderSize > v.Size() {
			res.Reason = EndFull
			break
		}
		// The window keeps the incomplete batch from res.End on: its
		// records are handed to fn only once its last one is read.
		b, err := v.At(res.End, off, off+RecordHeaderSize)
		if err != nil {
			return res, err
		}
		if IsEnd(b) {
			res.Reason = EndZero
			break
		}
		size := int64(binary.LittleEndian.Uint32(b[8:]))
		if padded := (size + 7) &^ 7; padded > RecordHeaderSize && off+padded <= v.Size() {
			// Read as far as the size claims. A claim past the segment's
			// end is not read for: the window ends at or before it, so
			// Decode rejects it as it would over the whole segment.
			if b, err = v.At(res.End, off, off+padded); err != nil {
				return res, err
			}
		}
		if m := v.Moves(); m != moves {
			moves = m
			s.rebind(res.End)
		}
		s.batch = append(s.batch, Record{})
		r := &s.batch[len(s.batch)-1]
		n, err := Decode(b, 0, base+uint64(off-HeaderSize), r)
		if err != nil {
			s.batch = s.batch[:len(s.batch)-1]
			res.Reason = EndInvalid
			res.Invalid = err.(*CorruptionError)
			res.Invalid.Offset += off // Decode saw the record at offset 0 of b
			break
		}
		res.SyncedThrough = max(res.SyncedThrough, r.SyncedThrough)
		off += int64(n)
		if r.Flags&FlagContinues != 0 {
			continue
		}
		o := res.End
		for i := range s.batch {
			if err := fn(o, &s.batch[i]); err != nil {
				return res, err
			}
			o += int64(s.batch[i].Len())
		}
		res.Records += len(s.batch)
		res.End = off
		s.batch = s.batch[:0]
	}
	res.IncompleteBytes = off - res.End
	return res, nil
}

// rebind points the records of the incomplete batch, which starts at file
// offset from, at the bytes where the moved window now holds them.
func (s *Scanner) rebind(from int64) {
	for i := range s.batch {
		r := &s.batch[i]
		b := s.view.win[from-s.view.start:]
		o := RecordHeaderSize
		r.Stream, o = b[o:o+len(r.Stream):o+len(r.Stream)], o+len(r.Stream)
		r.Type, o = b[o:o+len(r.Type):o+len(r.Type)], o+len(r.Type)
		r.Metadata, o = b[o:o+len(r.Metadata):o+len(r.Metadata)], o+len(r.Metadata)
		r.Data = b[o : o+len(r.Data) : o+len(r.Data)]
		from += int64(r.Len())
	}
}
