package segment

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
}

// Scan decodes the records of seg, the bytes of a segment with base
// position base, from file offset from (HeaderSize for the whole segment),
// and calls fn for each record of each complete batch, in order. It stops
// at the first byte that does not continue the log and reports why. An
// error from fn stops the scan and is returned as is.
func (s *Scanner) Scan(seg []byte, base uint64, from int64, fn func(off int64, r *Record) error) (ScanResult, error) {
	res := ScanResult{End: from}
	off := from
	s.batch = s.batch[:0]
	for {
		if off+RecordHeaderSize > int64(len(seg)) {
			res.Reason = EndFull
			break
		}
		if IsEnd(seg[off:]) {
			res.Reason = EndZero
			break
		}
		s.batch = append(s.batch, Record{})
		r := &s.batch[len(s.batch)-1]
		n, err := Decode(seg, off, base+uint64(off-HeaderSize), r)
		if err != nil {
			s.batch = s.batch[:len(s.batch)-1]
			res.Reason = EndInvalid
			res.Invalid = err.(*CorruptionError)
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
