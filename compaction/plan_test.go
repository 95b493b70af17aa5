package compaction_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/segment"
)

// stats describes consecutive segments, each given as {record bytes, live
// bytes}, in records of 100 bytes.
func stats(segs ...[2]int64) []compaction.SegmentStats {
	var out []compaction.SegmentStats
	base := uint64(0)
	for _, s := range segs {
		out = append(out, compaction.SegmentStats{
			Base: base, End: base + uint64(max(s[0], 8)),
			Bytes: s[0], LiveBytes: s[1], Records: int(s[0] / 100), LiveRecords: int(s[1] / 100),
			FileBytes: segment.HeaderSize + s[0], // a plain segment, full
		})
		base += uint64(max(s[0], 8))
	}
	return out
}

func TestPlan(t *testing.T) {
	const mb = 1 << 20
	opts := &compaction.Options{TargetSize: 10 * mb}
	low := &compaction.Options{TargetSize: 10 * mb, MinDeadRatio: 0.001}
	cases := []struct {
		name  string
		stats []compaction.SegmentStats
		opts  *compaction.Options
		want  []compaction.Run
	}{
		{"nothing dead", stats([2]int64{10 * mb, 10 * mb}, [2]int64{10 * mb, 10 * mb}), opts, nil},
		{"below the ratio", stats([2]int64{10 * mb, 6 * mb}), opts, nil},
		// 99 of 100 records live: their position map (16 bytes each) and
		// the end marker outweigh the one record freed.
		{"a rewrite that would grow the file", stats([2]int64{10000, 9900}), low, nil},
		{"a rewrite that shrinks the file", stats([2]int64{10000, 8000}), low, []compaction.Run{{0, 1}}},
		{"no merge that would grow the files", stats([2]int64{10000, 8000}, [2]int64{10000, 9900}), low, []compaction.Run{{0, 1}}},
		{"one dead enough", stats([2]int64{10 * mb, 10 * mb}, [2]int64{10 * mb, 5 * mb}, [2]int64{10 * mb, 10 * mb}), opts,
			[]compaction.Run{{1, 2}}},
		{"two neighbours merged", stats([2]int64{10 * mb, 4 * mb}, [2]int64{10 * mb, 3 * mb}), opts,
			[]compaction.Run{{0, 2}}},
		{"too big to merge", stats([2]int64{10 * mb, 5 * mb}, [2]int64{10 * mb, 5 * mb}), opts,
			[]compaction.Run{{0, 1}, {1, 2}}},
		{"small compacted neighbours on both sides", stats(
			[2]int64{1 * mb, 1 * mb}, // compacted before: all live
			[2]int64{10 * mb, 2 * mb},
			[2]int64{1 * mb, 1 * mb},
			[2]int64{10 * mb, 10 * mb}), opts,
			[]compaction.Run{{0, 3}}},
		{"a live neighbour that would dilute the run below the ratio", stats(
			[2]int64{10 * mb, 5 * mb},
			[2]int64{4 * mb, 4 * mb}), opts,
			[]compaction.Run{{0, 1}}},
		{"files without records merged", stats([2]int64{0, 0}, [2]int64{10 * mb, 1 * mb}, [2]int64{0, 0}), opts,
			[]compaction.Run{{0, 3}}},
		{"all dead, merged up to the target", stats(
			[2]int64{10 * mb, 0}, [2]int64{10 * mb, 0}, [2]int64{10 * mb, 0}), opts,
			[]compaction.Run{{0, 3}}},
		{"two runs", stats(
			[2]int64{10 * mb, 2 * mb}, [2]int64{10 * mb, 10 * mb}, [2]int64{10 * mb, 1 * mb}, [2]int64{10 * mb, 2 * mb}), opts,
			[]compaction.Run{{0, 1}, {2, 4}}},
		{"a lower ratio", stats([2]int64{10 * mb, 8 * mb}), &compaction.Options{MinDeadRatio: 0.2, TargetSize: 10 * mb},
			[]compaction.Run{{0, 1}}},
		{"all dead, merged up to MaxRunBytes", stats(
			[2]int64{10 * mb, 0}, [2]int64{10 * mb, 0}, [2]int64{10 * mb, 0}, [2]int64{10 * mb, 0}, [2]int64{10 * mb, 0}),
			&compaction.Options{TargetSize: 10 * mb, MaxRunBytes: 20 * mb},
			[]compaction.Run{{0, 2}, {2, 4}, {4, 5}}},
		{"the default target", stats([2]int64{64 * mb, 16 * mb}, [2]int64{64 * mb, 16 * mb}, [2]int64{64 * mb, 32 * mb}), nil,
			[]compaction.Run{{0, 2}, {2, 3}}},
	}
	for _, c := range cases {
		got, err := compaction.Plan(c.stats, c.opts)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Plan = %v, %v; want %v", c.name, got, err, c.want)
		}
	}

	// No merging across a gap.
	gap := stats([2]int64{10 * mb, 1 * mb}, [2]int64{10 * mb, 1 * mb})
	gap[1].Base += 8
	if got, _ := compaction.Plan(gap, opts); !reflect.DeepEqual(got, []compaction.Run{{0, 1}, {1, 2}}) {
		t.Errorf("across a gap: %v", got)
	}
	if _, err := compaction.Plan(gap, &compaction.Options{TargetSize: -1}); !errors.Is(err, compaction.ErrBadOptions) {
		t.Errorf("bad options: %v", err)
	}
}

// Every run Plan returns keeps its promises, over random statistics.
func TestPlanProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(40, 40))
	opts := &compaction.Options{TargetSize: 1 << 20, MinDeadRatio: 0.4, MaxRunBytes: 3 << 20}
	for range 2000 {
		var segs [][2]int64
		for range rng.IntN(12) {
			b := rng.Int64N(1 << 20)
			segs = append(segs, [2]int64{b, rng.Int64N(b + 1)})
		}
		st := stats(segs...)
		runs, err := compaction.Plan(st, opts)
		if err != nil {
			t.Fatal(err)
		}
		prev := 0
		for _, r := range runs {
			if r.From < prev || r.To <= r.From || r.To > len(st) {
				t.Fatalf("runs %v over %d segments", runs, len(st))
			}
			prev = r.To
			var b, l int64
			var n int
			seeded := false
			for _, s := range st[r.From:r.To] {
				b, l, n = b+s.Bytes, l+s.LiveBytes, n+s.LiveRecords
				seeded = seeded || (s.Bytes > 0 && s.Dead() >= 0.4)
			}
			if !seeded || float64(b-l) < 0.4*float64(b) {
				t.Fatalf("run %v of %v is not dead enough", r, segs)
			}
			if r.To-r.From > 1 && segment.CompactedSize(l, n) > 1<<20 {
				t.Fatalf("run %v of %v exceeds the target", r, segs)
			}
			if r.To-r.From > 1 && b > 3<<20 {
				t.Fatalf("run %v of %v holds %d record bytes, more than MaxRunBytes", r, segs, b)
			}
		}
		// Nothing dead enough was left out.
		for i, s := range st {
			in := false
			for _, r := range runs {
				in = in || (i >= r.From && i < r.To)
			}
			if !in && s.Bytes > 0 && s.Dead() >= 0.4 {
				t.Fatalf("segment %d (%+v) left out of %v", i, s, runs)
			}
		}
	}
}

func TestOptions(t *testing.T) {
	var nilOpts *compaction.Options
	if err := nilOpts.Validate(); err != nil {
		t.Fatal(err)
	}
	def := nilOpts.String()
	for _, want := range []string{"MinDeadRatio: 0.5", "TargetSize: 67108864", "MaxRunBytes: unbounded", "BytesPerSecond: unlimited", "Progress: false"} {
		if !strings.Contains(def, want) {
			t.Fatalf("defaults print as %q, without %q", def, want)
		}
	}
	if s := (&compaction.Options{}).String(); s != def {
		t.Fatalf("zero options print as %q, nil as %q", s, def)
	}
	set := &compaction.Options{MinDeadRatio: 0.25, TargetSize: 1 << 20, BytesPerSecond: 5000, Progress: func(compaction.Progress) {}}
	if s := set.String(); !strings.Contains(s, "0.25") || !strings.Contains(s, "1048576") || !strings.Contains(s, "5000 B/s") || !strings.Contains(s, "Progress: true") {
		t.Fatalf("options print as %q", s)
	}
	for _, bad := range []compaction.Options{
		{MinDeadRatio: -0.1}, {MinDeadRatio: 1.5}, {MinDeadRatio: math.NaN()},
		{TargetSize: -1}, {MaxRunBytes: -1}, {BytesPerSecond: -1},
	} {
		if err := bad.Validate(); !errors.Is(err, compaction.ErrBadOptions) {
			t.Errorf("%+v: %v", bad, err)
		}
		if s := bad.String(); !strings.Contains(s, "invalid") {
			t.Errorf("invalid options print as %q", s)
		}
	}
	if err := (&compaction.Options{MinDeadRatio: 1}).Validate(); err != nil {
		t.Fatal(err)
	}
	for p := compaction.Measuring; p <= compaction.Done+1; p++ {
		if p.String() == "" {
			t.Fatal("phase without a name")
		}
	}
}
