package recovery

import (
	"errors"
	"fmt"
	"strings"

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
		if i == len(segs)-1 && off == segment.HeaderFlagsAt {
			if h, compacted := compactedHeader(fsys, segs[i]); compacted {
				// Open's report that the log ends in a compacted
				// segment: the segments after it are gone (or an
				// earlier cut stopped before it created the new one).
				// Nothing is cut; a new segment goes after it.
				p.Extend, p.Position = true, h.End
				p.NewSegment, p.NewSegmentSize = segment.FileName(h.End), segmentSizeIn(fsys, segs)
				return nil
			}
		}
		var err error
		p.Offset, p.Whole, p.Records, p.Bytes, err = planSegment(fsys, segs[i], off)
		if err != nil {
			return err
		}
		p.Position = segs[i].base + uint64(max(p.Offset-segment.HeaderSize, 0))
		for _, s := range segs[i+1:] {
			_, _, records, n, err := planSegment(fsys, s, 0)
			if err != nil {
				return err
			}
			p.Records += records
			p.Bytes += n
		}
		if p.Offset > 0 || i == 0 {
			return nil
		}
		// The segment before the cut ends the log now: when it is a
		// compacted one, a new segment must follow it.
		if _, compacted := compactedHeader(fsys, segs[i-1]); !compacted {
			return nil
		}
		p.NewSegment, p.NewSegmentSize = segment.FileName(p.Position), segmentSizeIn(fsys, segs)
		return nil
	})
	return p, err
}

// segmentSizeIn is the size for a segment a cut creates: that of the
// largest ordinary segment of segs, or saved aside by an earlier cut (the
// store's segment size, unless it changed), or the engine's default when
// there is none; never below the engine's smallest.
func segmentSizeIn(fsys mmapfile.FS, segs []segName) int64 {
	names := make([]string, 0, len(segs))
	for _, s := range segs {
		names = append(names, s.name)
	}
	if all, err := fsys.List(); err == nil {
		for _, n := range all {
			if seg, broken := strings.CutSuffix(n, BrokenSuffix); broken {
				if _, ok := segment.ParseFileName(seg); ok {
					names = append(names, n)
				}
			}
		}
	}
	size := int64(0)
	for _, name := range names {
		f, err := fsys.Open(name)
		if err != nil {
			continue
		}
		if h, err := segment.ReadHeader(f.Bytes(), f.Size()); err == nil && !h.Compacted() {
			size = max(size, f.Size())
		}
		f.Close()
	}
	if size == 0 {
		size = segment.DefaultFileSize
	}
	return max(size, segment.MinFileSize)
}

// compactedHeader reports whether s is a compacted segment with a valid
// header (h), rather than an ordinary, an unreadable or a damaged one.
func compactedHeader(fsys mmapfile.FS, s segName) (h segment.Header, compacted bool) {
	f, err := fsys.Open(s.name)
	if err != nil {
		return h, false
	}
	defer f.Close()
	h, err = segment.ReadHeader(f.Bytes(), f.Size())
	return h, err == nil && h.Base == s.base && h.Compacted()
}

// planSegment returns where to cut segment s for damage at file offset
// off (0 when the whole segment goes, and why in whole) and the records
// that still verify and the bytes in use after the cut.
func planSegment(fsys mmapfile.FS, s segName, off int64) (cut int64, whole string, records int, bytes int64, err error) {
	f, err := fsys.Open(s.name)
	if errors.Is(err, mmapfile.ErrEmptyFile) {
		return 0, WholeHeader, 0, 0, nil // the whole segment goes, nothing in it
	}
	if err != nil {
		// Not a verdict on the file (out of descriptors or address
		// space, say): a plan that moved it aside would count none
		// of its records.
		return 0, "", 0, 0, err
	}
	defer f.Close()
	data := f.Bytes()
	h, err := segment.ReadHeader(data, f.Size())
	from := min(int64(segment.HeaderSize), int64(len(data)))
	switch {
	case err != nil || h.Base != s.base || off < segment.HeaderSize:
		return 0, WholeHeader, countValid(data, s.base, from), usedBytes(data, from), nil
	case h.Compacted():
		// Its records lie where its position map says, which a cut would
		// zero with the rest: the file goes whole, saved aside.
		return 0, WholeCompacted, countCompacted(data, h), usedBytes(data, from), nil
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
		return 0, "", 0, 0, err
	}
	return at, "", countValid(data, s.base, at), usedBytes(data, at), nil
}

// countCompacted counts the records of a compacted segment that verify
// where its position map puts them (none when the map is damaged).
func countCompacted(data []byte, h segment.Header) int {
	m, err := segment.LoadPositionMap(data, h)
	if err != nil {
		return 0
	}
	n := 0
	var r segment.Record
	for i := range m.Len() {
		pos, off := m.At(i)
		if _, err := segment.Decode(data, off, pos, &r); err == nil {
			n++
		}
	}
	return n
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
