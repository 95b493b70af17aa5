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
//   - merges neighbours into that segment, to the right and then to the
//     left (already compacted files, segments with little to drop, files
//     with no records), as long as the dead share of the whole stays at
//     least MinDeadRatio and the merged file, CompactedSize of the live
//     bytes, fits TargetSize (a single segment is rewritten even when it
//     does not: its file only shrinks) and the run's record bytes fit
//     MaxRunBytes, when set,
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
		if s := stats[i]; s.Bytes == 0 || s.Dead() < o.MinDeadRatio {
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
// one: dead enough, small enough once compacted, and small enough to map
// at once.
func fits(stats []SegmentStats, r Run, o *Options) bool {
	var bytes, live int64
	var records int
	for _, s := range stats[r.From:r.To] {
		bytes += s.Bytes
		live += s.LiveBytes
		records += s.LiveRecords
	}
	return bytes > 0 && float64(bytes-live) >= o.MinDeadRatio*float64(bytes) &&
		segment.CompactedSize(live, records) <= o.TargetSize &&
		(o.MaxRunBytes == 0 || bytes <= o.MaxRunBytes)
}
