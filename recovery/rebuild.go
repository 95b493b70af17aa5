package recovery

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/internal/plant"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// Segment is one segment file, in base order.
type Segment struct {
	Name string
	Base uint64
	Size int64 // the file's size in bytes
	// Compacted: a compacted segment (see segment/doc.go), covering the
	// positions [Base, End), whose records are found through its position
	// map. Compaction only rewrites sealed segments: one is never the
	// last, and its records are durable.
	Compacted bool
	End       uint64
	// Map returns the segment's mapped file and a release function that
	// recovery calls once it is done with the bytes for now. Recovery
	// holds only a few segments at a time, so a caller that caps its
	// mapped bytes (32-bit address space) can map them on demand and
	// unmap released ones. For a compacted segment it also returns the
	// file's position map, checked.
	Map func() (f mmapfile.File, positions segment.PositionMap, release func(), err error)
}

// MappedSegment describes a segment whose file is mapped already and stays
// mapped while recovery runs. A header that says compacted has its
// position map checked here; any other is taken as an ordinary segment's,
// which recovery does not read (the caller checks segment headers).
func MappedSegment(name string, base uint64, f mmapfile.File) (Segment, error) {
	h, err := segment.ReadHeader(f.Bytes(), f.Size())
	if err != nil {
		h = segment.Header{}
	}
	var pm segment.PositionMap
	if h.Compacted() {
		if pm, err = segment.LoadPositionMap(f.Bytes(), h); err != nil {
			return Segment{}, segment.WithSegment(err, name)
		}
	}
	return Segment{Name: name, Base: base, Size: f.Size(), Compacted: h.Compacted(), End: h.End,
		Map: func() (mmapfile.File, segment.PositionMap, func(), error) {
			return f, pm, func() {}, nil
		}}, nil
}

// withFile runs fn with sg's file mapped.
func withFile(sg Segment, fn func(f mmapfile.File) error) error {
	return withMapped(sg, func(f mmapfile.File, _ segment.PositionMap) error { return fn(f) })
}

// withMapped runs fn with sg's file mapped, and its position map if it is
// compacted.
func withMapped(sg Segment, fn func(f mmapfile.File, pm segment.PositionMap) error) error {
	f, pm, release, err := sg.Map()
	if err != nil {
		return fmt.Errorf("recovery: map %s: %w", sg.Name, err)
	}
	defer release()
	return fn(f, pm)
}

// rangeEnd is the first position past sg's range, as far as its file
// tells: a compacted segment's end, or its space's for an ordinary one.
func (sg Segment) rangeEnd() uint64 {
	if sg.Compacted {
		return sg.End
	}
	return sg.Base + uint64(sg.Size-segment.HeaderSize)
}

// Report says what Rebuild found and did.
type Report struct {
	End             uint64 // log position where the log ends and appends continue
	Records         int    // records in the log
	Streams         int    // distinct streams
	TornBytes       int64  // bytes zeroed after the end (unacknowledged writes)
	RemovedSegments int    // empty segments after the end, removed
	// LastRecordLen is the length of the record that ends at End, 0 when
	// the log is empty or that record is not known; the index's clean
	// header records it (hashindex.Index.CheckpointRecordLen).
	LastRecordLen uint32
}

// Rebuild scans segs, cuts the log after its last complete batch and
// builds a fresh index called indexName with at least minSlots slots.
// durable is a log position known durable from elsewhere (the old index's
// checkpoint), or 0. If the log ends before what is known durable — by
// durable, or by the synced-through field of a record found after the end
// — the end is damage, not a torn tail: Rebuild fails with a
// *segment.CorruptionError and changes nothing. An old index called
// indexName is replaced (atomically, by rename) only once every check has
// passed. The caller runs Rebuild inside mmapfile.Guard. Removed trailing
// segments are the last Report.RemovedSegments of segs; their files are
// deleted but the caller still closes them.
func Rebuild(fs mmapfile.FS, segs []Segment, indexName string, minSlots, durable uint64) (*hashindex.Index, Report, error) {
	heads := make(map[string]*streamChain)
	g := gapsIn(segs)
	lg, err := scanLog(segs, 0, segment.HeaderSize, func(name string, off int64, r *segment.Record) error {
		return follow(heads, name, off, r, g)
	})
	if err != nil {
		return nil, Report{}, err
	}
	rep := Report{End: lg.end, Records: lg.records, RemovedSegments: len(segs) - 1 - lg.cut, LastRecordLen: lg.lastRecordLen()}
	if err := checkWatermark(segs, &lg, durable); err != nil {
		return nil, rep, err
	}
	if rep.TornBytes, err = cutLog(fs, segs, lg, 0); err != nil {
		return nil, rep, err
	}
	gapStream, gapAt := "", uint64(segment.NoPosition)
	for stream, c := range heads {
		if c.unexplainedGap() && c.gapRecord < gapAt {
			gapStream, gapAt = stream, c.gapRecord // the first in the log
		}
	}
	if gapAt != segment.NoPosition {
		return nil, rep, gapError(segs, gapStream, gapAt)
	}
	rep.Streams = len(heads)
	ix, err := buildIndex(fs, segs[:lg.cut+1], indexName, minSlots, heads, rep.End, rep.LastRecordLen)
	return ix, rep, err
}

// scannedLog is where a scan found the log to end.
type scannedLog struct {
	end     uint64 // log position of the end
	cut     int    // index of the segment the end lies in
	cutOff  int64  // file offset of the end in segs[cut]
	res     segment.ScanResult
	records int
	// tail, when probed (tailKnown), says where the bytes after the end
	// may be nonzero.
	tail      tailProbe
	tailKnown bool
	// lastPos and lastEnd are the position and end of the last record the
	// scan met (lastEnd 0 when none).
	lastPos, lastEnd uint64
}

// lastRecordLen is the length of the record that ends at the log's end,
// when the scan met it, or 0.
func (lg *scannedLog) lastRecordLen() uint32 {
	if lg.lastEnd == 0 || lg.lastEnd != lg.end || lg.lastEnd-lg.lastPos > math.MaxUint32 {
		return 0
	}
	return uint32(lg.lastEnd - lg.lastPos)
}

// scanLog scans segs from file offset off of segs[first] on, calling fn
// for each record, and finds where the log ends: in the last segment, or
// in an earlier one followed only by empty segments. An earlier segment
// that stops short while a later one holds records is damage: the engine
// makes a segment's data durable before it writes any byte of the next
// one, so a torn tail never spans a roll.
func scanLog(segs []Segment, first int, off int64, visit func(name string, off int64, r *segment.Record) error) (scannedLog, error) {
	var lg scannedLog
	fn := func(name string, off int64, r *segment.Record) error {
		lg.lastPos, lg.lastEnd = r.Position, r.End()
		return visit(name, off, r)
	}
	var sc segment.Scanner
	for i := first; i < len(segs); i++ {
		sg := segs[i]
		if sg.Compacted {
			n, err := scanCompacted(sg, segs, i, fn)
			lg.records += n
			if err != nil {
				return lg, err
			}
			off = segment.HeaderSize
			continue
		}
		var res segment.ScanResult
		err := withFile(sg, func(f mmapfile.File) error {
			var err error
			res, err = sc.ScanFile(f, sg.Base, off, func(off int64, r *segment.Record) error {
				return fn(sg.Name, off, r)
			})
			return err
		})
		off = segment.HeaderSize
		if err != nil {
			return lg, err
		}
		lg.records += res.Records
		end := sg.Base + uint64(res.End-segment.HeaderSize)
		if i < len(segs)-1 && end == segs[i+1].Base {
			continue
		}
		empty, err := allEmpty(segs[i+1:])
		if err != nil {
			return lg, err
		}
		if !empty {
			reason := fmt.Sprintf("segment data ends at log position %d (%v), but the next segment starts at %d and holds records", end, res.Reason, segs[i+1].Base)
			if res.Invalid != nil {
				reason += ": " + res.Invalid.Reason
			}
			return lg, &segment.CorruptionError{Segment: sg.Name, Offset: res.End, Reason: reason}
		}
		lg.end, lg.cut, lg.cutOff, lg.res = end, i, res.End, res
		return lg, nil
	}
	return lg, fmt.Errorf("recovery: no segment to scan")
}

// scanCompacted calls fn for every record of segs[i], a compacted
// segment, and returns how many there were. Its records were durable when
// compaction copied them: anything wrong is damage, and a compacted
// segment is never where the log ends.
func scanCompacted(sg Segment, segs []Segment, i int, fn func(name string, off int64, r *segment.Record) error) (int, error) {
	if i == len(segs)-1 || segs[i+1].Base != sg.End {
		return 0, &segment.CorruptionError{Segment: sg.Name, Offset: segment.HeaderEndAt, Reason: fmt.Sprintf(
			"compacted segment ends at %d, but no segment starts there", sg.End)}
	}
	n := 0
	err := withFile(sg, func(f mmapfile.File) error {
		h, err := segment.ReadHeader(f.Bytes(), f.Size())
		if err != nil {
			return err
		}
		c, err := segment.NewCursor(f.Bytes(), h, sg.End)
		if err != nil {
			return err
		}
		for c.Next() {
			n++
			if err := fn(sg.Name, c.Offset(), c.Record()); err != nil {
				return err
			}
		}
		return c.Err()
	})
	return n, segment.WithSegment(err, sg.Name)
}

// allEmpty reports whether no segment of segs holds a record. A compacted
// segment never counts as empty, even without records: its range is not
// free.
func allEmpty(segs []Segment) (bool, error) {
	for _, sg := range segs {
		if sg.Compacted {
			return false, nil
		}
		empty := true
		err := withFile(sg, func(f mmapfile.File) error {
			empty = segment.IsEnd(f.Bytes()[segment.HeaderSize:])
			return nil
		})
		if err != nil || !empty {
			return false, err
		}
	}
	return true, nil
}

// cutLog zeroes everything after the end found by scanLog, syncs the kept
// log from position from on and removes the empty segments after the end.
// It returns the bytes zeroed after the end.
func cutLog(fs mmapfile.FS, segs []Segment, lg scannedLog, from uint64) (int64, error) {
	lo, hi := lg.cutOff, segs[lg.cut].Size
	if lg.tailKnown {
		lo, hi = lg.tail.lo, lg.tail.hi
	}
	var torn int64
	err := withFile(segs[lg.cut], func(f mmapfile.File) error {
		var err error
		torn, err = zeroTail(f, lg.cutOff, lo, hi)
		return err
	})
	if err != nil {
		return 0, err
	}
	// What the scan accepted may sit unsynced in the page cache (a killed
	// NoSync store, or a crash between write-back and msync). New records
	// will build on it and the new index will claim it, so it must be
	// durable before either.
	for i, sg := range segs[:lg.cut+1] {
		if sg.Compacted {
			continue // synced by the compaction that wrote it
		}
		end := lg.cutOff
		if i < lg.cut {
			end = segment.HeaderSize + int64(segs[i+1].Base-sg.Base)
		}
		start := int64(segment.HeaderSize)
		if from > sg.Base {
			start += int64(from - sg.Base)
		}
		if start >= end {
			continue
		}
		err := withFile(sg, func(f mmapfile.File) error { return f.Sync(start, end-start) })
		if err != nil {
			return 0, fmt.Errorf("recovery: sync %s: %w", sg.Name, err)
		}
	}
	for _, sg := range segs[lg.cut+1:] {
		if err := fs.Remove(sg.Name); err != nil {
			return 0, err
		}
	}
	if lg.cut < len(segs)-1 {
		if err := fs.SyncDir(); err != nil {
			return 0, err
		}
	}
	return torn, nil
}

// checkWatermark fails when the log, ending at lg.end (file offset
// lg.cutOff of segs[lg.cut]), ends before a position known durable:
// durable, the synced-through fields of the cut segment's records
// (incomplete batch included), or those of records that still verify
// after the end. It notes in lg where the cut segment's tail may be
// nonzero.
func checkWatermark(segs []Segment, lg *scannedLog, durable uint64) error {
	if plant.On(plant.CutBelowWatermark) {
		return nil
	}
	cut, cutOff, res, end := lg.cut, lg.cutOff, lg.res, lg.end
	w, from := max(durable, res.SyncedThrough), "the index checkpoint or a record before the end"
	var v segment.View
	for i, sg := range segs[cut:] {
		off := int64(segment.HeaderSize)
		if i == 0 {
			off = cutOff
		}
		var p tailProbe
		err := withFile(sg, func(f mmapfile.File) error {
			var err error
			p, err = probeFile(&v, f, sg.Base, off)
			return err
		})
		if err != nil {
			return err
		}
		if i == 0 {
			lg.tail, lg.tailKnown = p, true
		}
		if p.syncedThrough > w {
			w, from = p.syncedThrough, "a record after the end"
			if i > 0 {
				from = "a record in " + sg.Name
			}
		}
	}
	if w <= end {
		return nil
	}
	reason := fmt.Sprintf("log data ends at position %d (%v), but %s shows it was durable through %d: acknowledged data is damaged", end, res.Reason, from, w)
	if res.Invalid != nil {
		reason += " (" + res.Invalid.Reason + ")"
	}
	return &segment.CorruptionError{Segment: segs[cut].Name, Offset: cutOff, Reason: reason}
}

// follow checks that r continues its stream's chains and makes it the
// head of its chain.
func follow(heads map[string]*streamChain, name string, off int64, r *segment.Record, g gaps) error {
	c, ok := heads[string(r.Stream)]
	if !ok {
		nc := newChain()
		c = &nc
	}
	if reason := c.problem(r, g); reason != "" {
		return &segment.CorruptionError{Segment: name, Offset: off, Reason: reason}
	}
	if !ok {
		heads[string(r.Stream)] = c
	}
	c.apply(r)
	return nil
}

// zeroTail zeroes every nonzero page from off to the end of f and syncs
// what it changed. It returns how many bytes after off were not zero.
// Only the pages that meet [lo, hi) are looked at: the caller knows the
// others are zero (lo, hi = off, f.Size() when it does not), so that a
// tail just probed is not read again.
func zeroTail(f mmapfile.File, off, lo, hi int64) (int64, error) {
	data := f.Bytes()
	page := int64(os.Getpagesize())
	zero := make([]byte, page)
	var dirtyFrom, dirtyTo int64 = -1, -1
	start := off
	if lo > off {
		start = max(off, lo&^(page-1)) // the page holding lo; pages are chunked as from off
	}
	for p := start; p < min(hi, int64(len(data))); {
		end := min((p/page+1)*page, int64(len(data)))
		if !bytes.Equal(data[p:end], zero[:end-p]) {
			clear(data[p:end])
			if dirtyFrom < 0 {
				dirtyFrom = p
			}
			dirtyTo = end
		}
		p = end
	}
	if dirtyFrom < 0 {
		return 0, nil
	}
	if plant.On(plant.ZeroedTailUnsynced) {
		return dirtyTo - off, nil
	}
	if err := f.Sync(dirtyFrom, dirtyTo-dirtyFrom); err != nil {
		return 0, fmt.Errorf("recovery: sync zeroed tail of %s: %w", f.Name(), err)
	}
	return dirtyTo - off, nil
}

// buildIndex creates the index and records each stream's head in it.
func buildIndex(fs mmapfile.FS, segs []Segment, name string, minSlots uint64, heads map[string]*streamChain, end uint64, lastLen uint32) (*hashindex.Index, error) {
	slots, err := hashindex.SlotsFor(uint64(len(heads)), minSlots)
	if err != nil {
		return nil, fmt.Errorf("recovery: rebuild index %s: %w", name, err)
	}
	ix, err := hashindex.Create(fs, name, slots)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		// Deferred, so that a fault panic (a page of the new file, or of
		// a segment a fingerprint collision reads) unwinding to the
		// caller's Guard closes the new file too.
		if !ok {
			_ = ix.Close()
		}
	}()
	var r segment.Record
	for stream, c := range heads {
		if err := ix.Put(hashindex.FingerprintString(stream), c.entry(), streamAt(segs, stream, &r)); err != nil {
			return nil, err
		}
	}
	// The index now describes the log exactly through end, so it is as
	// good as after a clean close; the first change marks it dirty again.
	if err := ix.Flush(end, lastLen, true); err != nil {
		return nil, err
	}
	ok = true
	return ix, nil
}

// streamAt confirms an index entry for stream: the record at its tail in
// segs must belong to stream.
func streamAt(segs []Segment, stream string, r *segment.Record) hashindex.MatchFunc {
	return func(e hashindex.Entry) (bool, error) {
		var match bool
		err := withRecordAt(segs, e.Tail, r, func(r *segment.Record) error {
			match = string(r.Stream) == stream
			return nil
		})
		return match, err
	}
}

// withRecordAt decodes the record at log position pos into r and runs fn
// on it while its segment is mapped: r's byte fields alias the mapping.
func withRecordAt(segs []Segment, pos uint64, r *segment.Record, fn func(r *segment.Record) error) error {
	sg, ok := segmentOf(segs, pos)
	if !ok {
		return &segment.CorruptionError{Segment: "(none)", Offset: int64(pos), Reason: "position before the first segment"}
	}
	return withMapped(sg, func(f mmapfile.File, pm segment.PositionMap) error {
		off := int64(pos-sg.Base) + segment.HeaderSize
		if sg.Compacted {
			var found bool
			if off, found = pm.Find(pos); !found {
				return &segment.CorruptionError{Segment: sg.Name, Offset: 0, Reason: fmt.Sprintf(
					"no record at position %d in the compacted segment (removed by compaction)", pos)}
			}
		}
		if _, err := segment.Decode(f.Bytes(), off, pos, r); err != nil {
			return segment.WithSegment(err, sg.Name)
		}
		return fn(r)
	})
}

// gapError reports the record at pos, of stream, that points back at a
// record compaction cannot have removed.
func gapError(segs []Segment, stream string, pos uint64) error {
	ce := &segment.CorruptionError{Segment: "(none)", Offset: -1, Reason: gapReason([]byte(stream))}
	if sg, ok := segmentOf(segs, pos); ok {
		ce.Segment, ce.Offset = sg.Name, int64(pos-sg.Base)+segment.HeaderSize
		if sg.Compacted {
			_ = withMapped(sg, func(_ mmapfile.File, pm segment.PositionMap) error {
				ce.Offset, _ = pm.Find(pos)
				return nil
			})
		}
	}
	return ce
}

// segmentOf returns the segment of segs whose range may hold pos.
func segmentOf(segs []Segment, pos uint64) (Segment, bool) {
	i, found := slices.BinarySearchFunc(segs, pos, func(s Segment, p uint64) int { return cmp.Compare(s.Base, p) })
	if !found {
		i--
	}
	if i < 0 {
		return Segment{}, false
	}
	return segs[i], true
}

// removedIn reports whether pos lies in a compacted segment of segs that
// holds no record there: compaction removed it (retention hid it). A
// chain may point at such a record; what follows it is all that is left.
func removedIn(segs []Segment, pos uint64) bool {
	sg, ok := segmentOf(segs, pos)
	if !ok || !sg.Compacted || pos >= sg.End {
		return false
	}
	removed := false
	_ = withMapped(sg, func(_ mmapfile.File, pm segment.PositionMap) error {
		_, found := pm.Find(pos)
		removed = !found
		return nil
	})
	return removed
}
