package compaction_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/segment"
)

func TestMeasure(t *testing.T) {
	lf := newLog(t, 41, 3, 5000)
	rewrite(t, lf, 1, 2, keepEven)
	fewer := func(r *segment.Record) bool { return keepEven(r) && r.Version%2 == 0 }
	for i, s := range lf.segs[:lf.sealed] {
		src := lf.sources(t, lf.fs, i, i+1)[0]
		var reports int
		got, err := compaction.Measure(context.Background(), src, fewer, &compaction.Options{Progress: func(compaction.Progress) { reports++ }})
		if err != nil {
			t.Fatal(err)
		}
		want := compaction.SegmentStats{Name: s.name, Base: s.base, End: s.end, Compacted: i == 1, Records: len(s.recs), FileBytes: src.File.Size()}
		for _, r := range s.recs {
			want.Bytes += int64(len(r.raw))
		}
		for _, r := range kept(t, []seg{s}, fewer) {
			want.LiveRecords++
			want.LiveBytes += int64(len(r.raw))
		}
		if got != want || reports == 0 {
			t.Fatalf("Measure(%s) = %+v, want %+v (%d reports)", s.name, got, want, reports)
		}
		if d := got.Dead(); math.Abs(d-float64(want.Bytes-want.LiveBytes)/float64(want.Bytes)) > 1e-12 {
			t.Fatalf("Dead = %v", d)
		}
	}
	if (compaction.SegmentStats{}).Dead() != 0 {
		t.Fatal("a segment without records is dead")
	}
	src := lf.sources(t, lf.fs, 0, 1)[0]
	if _, err := compaction.Measure(context.Background(), src, nil, nil); !errors.Is(err, compaction.ErrBadRun) {
		t.Fatalf("nil keep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := compaction.Measure(ctx, src, keepEven, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
