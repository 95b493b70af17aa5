package compaction

import "github.com/spooldb/spool/segment"

// Run is a run of consecutive segments to rewrite together:
// stats[From:To] of the slice given to Plan.
type Run struct{ From, To int }

// Plan chooses what to compact, given the stats of consecutive sealed
// segments in log order (never the one being written). Every run it
// returns
//
//   - starts from a segment whose dead share (SegmentStats.Dead) is at
//     least MinDeadRatio,
//   - has, over all its segments, a dead share of at least MinDeadRatio:
//     rewriting it costs its live bytes and frees at least that share,
//   - comes out smaller than the files it replaces: CompactedSize of its
//     live records is below their FileBytes. A compacted file spends
//     MapEntrySize bytes per record on its position map, so with small
//     records and a low MinDeadRatio the map can outweigh what the dead
//     records free,
//   - merges neighbours into that segment, to the right and then to the
//     left (already compacted files, segments with little to drop, files
//     with no records), as long as the dead share of the whole stays at
//     least MinDeadRatio and the merged file, CompactedSize of the live
//     bytes, fits TargetSize (a single segment is rewritten even when it
//     does not: its file shrinks all the same) and the run's record
//     bytes fit MaxRunBytes, when set,
//   - never spans a gap: neighbours whose End and Base differ are not
//     merged.
//
// Runs do not overlap and come in log order.
func Plan(stats []SegmentStats, opts *Options) ([]Run, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	var runs []Run
	floor := 0 // segments before floor belong to earlier runs
	for i := 0; i < len(stats); i++ {
		if s := stats[i]; s.Bytes == 0 || s.Dead() < o.MinDeadRatio || !shrinks(stats, Run{i, i + 1}) {
			continue
		}
		r := Run{i, i + 1}
		for r.To < len(stats) && stats[r.To-1].End == stats[r.To].Base && fits(stats, Run{r.From, r.To + 1}, &o) {
			r.To++
		}
		for r.From > floor && stats[r.From-1].End == stats[r.From].Base && fits(stats, Run{r.From - 1, r.To}, &o) {
			r.From--
		}
		runs = append(runs, r)
		floor, i = r.To, r.To-1
	}
	return runs, nil
}

// fits reports whether r, of more than one segment, may be rewritten as
// one: dead enough, small enough once compacted (and smaller than its
// files), and small enough to map at once.
func fits(stats []SegmentStats, r Run, o *Options) bool {
	t := totalOf(stats, r)
	return t.Bytes > 0 && float64(t.Bytes-t.LiveBytes) >= o.MinDeadRatio*float64(t.Bytes) &&
		t.compacted() <= o.TargetSize && t.compacted() < t.FileBytes &&
		(o.MaxRunBytes == 0 || t.Bytes <= o.MaxRunBytes)
}

// shrinks reports whether rewriting r gives a file smaller than its files.
func shrinks(stats []SegmentStats, r Run) bool {
	t := totalOf(stats, r)
	return t.compacted() < t.FileBytes
}

// totalOf sums the counts of r's segments.
func totalOf(stats []SegmentStats, r Run) SegmentStats {
	var t SegmentStats
	for _, s := range stats[r.From:r.To] {
		t.Bytes += s.Bytes
		t.LiveBytes += s.LiveBytes
		t.LiveRecords += s.LiveRecords
		t.FileBytes += s.FileBytes
	}
	return t
}

// compacted is the size of the compacted file holding t's live records.
func (t SegmentStats) compacted() int64 { return segment.CompactedSize(t.LiveBytes, t.LiveRecords) }
