package recovery

import (
	"fmt"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// planTruncate works out the cut for damage at file offset off of seg,
// one of segs, reading through fsys.
func planTruncate(fsys mmapfile.FS, segs []segName, seg string, off int64) (TruncatePlan, error) {
	i := -1
	for j, s := range segs {
		if s.name == seg {
			i = j
		}
	}
	if i < 0 {
		return TruncatePlan{}, fmt.Errorf("%w: %s", ErrNoSegment, seg)
	}
	p := TruncatePlan{Segment: seg, Damage: off, Position: segs[i].base}
	for _, s := range segs[i+1:] {
		p.Later = append(p.Later, s.name)
	}
	err := mmapfile.Guard(func() error {
		var err error
		p.Offset, p.Records, p.Bytes, err = planSegment(fsys, segs[i], off)
		if err != nil {
			return err
		}
		p.Position = segs[i].base + uint64(max(p.Offset-segment.HeaderSize, 0))
		for _, s := range segs[i+1:] {
			_, records, n, err := planSegment(fsys, s, 0)
			if err != nil {
				return err
			}
			p.Records += records
			p.Bytes += n
		}
		return nil
	})
	return p, err
}

// planSegment returns where to cut segment s for damage at file offset
// off (0 when the whole segment goes) and the records that still verify
// and the bytes in use after the cut.
func planSegment(fsys mmapfile.FS, s segName, off int64) (int64, int, int64, error) {
	f, err := fsys.Open(s.name)
	if err != nil {
		return 0, 0, 0, nil // unmappable (empty): the whole segment goes, nothing in it
	}
	defer f.Close()
	data := f.Bytes()
	h, err := segment.ReadHeader(data, f.Size())
	if err != nil || h.Base != s.base || off < segment.HeaderSize {
		from := min(int64(segment.HeaderSize), int64(len(data)))
		return 0, countValid(data, s.base, from), usedBytes(data, from), nil
	}
	// Cut at the end of the last complete batch that ends at or before the
	// damage: a batch is all or nothing.
	at := int64(segment.HeaderSize)
	var sc segment.Scanner
	_, err = sc.Scan(data, s.base, segment.HeaderSize, func(o int64, r *segment.Record) error {
		if o+int64(r.Len()) > off {
			return errPlanStop
		}
		if r.Flags&segment.FlagContinues == 0 {
			at = o + int64(r.Len())
		}
		return nil
	})
	if err != nil && err != errPlanStop {
		return 0, 0, 0, err
	}
	return at, countValid(data, s.base, at), usedBytes(data, at), nil
}

// countValid counts the records at or after file offset from that verify in
// place.
func countValid(data []byte, base uint64, from int64) int {
	n := 0
	for range validRecords(data, base, from) {
		n++
	}
	return n
}

// usedBytes is how many bytes from file offset from on are in use: to the
// last nonzero byte, rounded up to the 8-byte record alignment (a record's
// padding is zero).
func usedBytes(data []byte, from int64) int64 {
	end := min((lastNonZero(data, from)+7)&^7, int64(len(data)))
	return max(end-from, 0)
}
