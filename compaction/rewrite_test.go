package compaction_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/segment"
)

// rewrite compacts segs[from:to] of lf with keep and checks the result.
func rewrite(t *testing.T, lf *logFixture, from, to int, keep compaction.Keep) compaction.Result {
	t.Helper()
	e := lf.expect(t, from, to, keep)
	var in int64
	var records int
	for _, s := range lf.segs[from:to] {
		for _, r := range s.recs {
			in += int64(len(r.raw))
			records++
		}
	}
	res, err := compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, from, to), keep, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.File.Close() })
	if !e.check(t, lf.fs) {
		t.Fatal("the directory still holds the old files")
	}
	noTemp(t, lf.fs)
	var out int64
	for _, k := range e.kept {
		out += int64(len(k.raw))
	}
	first, last := lf.segs[from], lf.segs[to-1]
	switch {
	case res.Name != first.name || res.File.Name() != first.name:
		t.Fatalf("Result names %s (file %s), want %s", res.Name, res.File.Name(), first.name)
	case res.Base != first.base || res.End != last.end || res.Header.Base != first.base || res.Header.End != last.end:
		t.Fatalf("Result covers [%d, %d), header %+v, want [%d, %d)", res.Base, res.End, res.Header, first.base, last.end)
	case res.Kept != len(e.kept) || res.Dropped != records-len(e.kept):
		t.Fatalf("kept %d dropped %d, want %d and %d", res.Kept, res.Dropped, len(e.kept), records-len(e.kept))
	case res.BytesIn != in || res.BytesOut != segment.CompactedSize(out, len(e.kept)) || res.File.Size() != res.BytesOut:
		t.Fatalf("bytes in %d out %d (file %d), want %d and %d", res.BytesIn, res.BytesOut, res.File.Size(), in, segment.CompactedSize(out, len(e.kept)))
	case len(res.Removed) != to-from-1:
		t.Fatalf("removed %v", res.Removed)
	}
	for i, name := range res.Removed {
		if name != lf.segs[from+1+i].name {
			t.Fatalf("removed %v", res.Removed)
		}
	}
	// What the caller gets is the file on disk.
	onDisk, ok := lf.fs.Durable(res.Name)
	if !ok || !bytes.Equal(onDisk, res.File.Bytes()) {
		t.Fatal("the returned file is not what the device holds under its name")
	}
	lf.compacted(t, from, to, keep, res)
	return res
}

func TestRewriteOneSegment(t *testing.T) {
	lf := newLog(t, 1, 3, 12000)
	rewrite(t, lf, 1, 2, keepEven)
}

func TestRewriteMergesThree(t *testing.T) {
	lf := newLog(t, 2, 4, 12000)
	rewrite(t, lf, 0, 3, keepEven)
	if len(lf.segs) != 3 {
		t.Fatalf("%d segments left", len(lf.segs))
	}
}

func TestRewriteCompactedAgain(t *testing.T) {
	lf := newLog(t, 3, 4, 12000)
	rewrite(t, lf, 1, 2, keepEven)
	// The compacted file alone, keeping fewer records.
	fewer := func(r *segment.Record) bool { return keepEven(r) && r.Data[len(r.Data)-1]%2 == 0 }
	rewrite(t, lf, 1, 2, fewer)
	// Merged with its neighbours, one ordinary on each side.
	rewrite(t, lf, 0, 3, fewer)
	if len(lf.segs) != 3 {
		t.Fatalf("%d segments left", len(lf.segs))
	}
}

func TestRewriteKeepNothing(t *testing.T) {
	lf := newLog(t, 4, 3, 12000)
	res := rewrite(t, lf, 0, 2, keepNone)
	if res.Kept != 0 || res.Header.MapCount != 0 || res.BytesOut != segment.HeaderSize+segment.RecordHeaderSize {
		t.Fatalf("keep-nothing result %+v", res)
	}
	// And again: a file without records compacts to itself.
	rewrite(t, lf, 0, 1, keepNone)
}

func TestRewriteKeepAll(t *testing.T) {
	lf := newLog(t, 5, 2, 12000)
	rewrite(t, lf, 0, 2, func(*segment.Record) bool { return true })
}

// The keep predicate is asked once per record, in order, and only about
// records that verified; a damaged record stops Rewrite with corruption
// naming its segment and offset, and nothing changes.
func TestRewriteDamagedSource(t *testing.T) {
	lf := newLog(t, 6, 3, 12000)
	bad := lf.segs[1].recs[5]
	badOff := int64(segment.HeaderSize + bad.pos - lf.segs[1].base)
	f, err := lf.fs.Open(lf.segs[1].name)
	if err != nil {
		t.Fatal(err)
	}
	f.Bytes()[badOff+segment.RecordHeaderSize+2] ^= 1
	lf.segs[1].image = bytes.Clone(f.Bytes())
	_ = f.Close()

	var asked []uint64
	keep := func(r *segment.Record) bool {
		asked = append(asked, r.Position)
		return true
	}
	e := lf.expect(t, 0, 3, keepNone)
	_, err = compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, 0, 3), keep, nil)
	wantCorrupt(t, err, lf.segs[1].name, badOff)
	want := len(lf.segs[0].recs) + 5
	if len(asked) != want {
		t.Fatalf("keep asked %d times, want %d (every record before the damaged one)", len(asked), want)
	}
	for i, p := range asked {
		if i > 0 && p <= asked[i-1] {
			t.Fatalf("keep asked about %d after %d", p, asked[i-1])
		}
	}
	if e.check(t, lf.fs) {
		t.Fatal("compacted despite the damage")
	}
	noTemp(t, lf.fs)
}

func TestRewriteRejectsBadRuns(t *testing.T) {
	lf := newLog(t, 7, 3, 12000)
	ctx := context.Background()
	run := lf.sources(t, lf.fs, 0, 3)
	cases := map[string]func() ([]compaction.Source, compaction.Keep){
		"empty":    func() ([]compaction.Source, compaction.Keep) { return nil, keepEven },
		"nil keep": func() ([]compaction.Source, compaction.Keep) { return run, nil },
		"gap": func() ([]compaction.Source, compaction.Keep) {
			return []compaction.Source{run[0], run[2]}, keepEven
		},
		"wrong name": func() ([]compaction.Source, compaction.Keep) {
			r := append([]compaction.Source(nil), run...)
			r[1].Name = "x.seg"
			return r, keepEven
		},
		"empty segment": func() ([]compaction.Source, compaction.Keep) {
			r := append([]compaction.Source(nil), run[:1]...)
			r[0].End = r[0].Base
			return r, keepEven
		},
		"no file": func() ([]compaction.Source, compaction.Keep) {
			r := append([]compaction.Source(nil), run...)
			r[2].File = nil
			return r, keepEven
		},
		"file of another segment": func() ([]compaction.Source, compaction.Keep) {
			r := append([]compaction.Source(nil), run...)
			r[1].File = run[2].File
			return r, keepEven
		},
	}
	e := lf.expect(t, 0, 3, keepEven)
	for name, c := range cases {
		r, keep := c()
		if _, err := compaction.Rewrite(ctx, lf.fs, r, keep, nil); !errors.Is(err, compaction.ErrBadRun) {
			t.Errorf("%s: %v, want ErrBadRun", name, err)
		}
	}
	if _, err := compaction.Rewrite(ctx, lf.fs, run, keepEven, &compaction.Options{MinDeadRatio: 2}); !errors.Is(err, compaction.ErrBadOptions) {
		t.Errorf("bad options: %v", err)
	}
	if e.check(t, lf.fs) {
		t.Fatal("a rejected run was compacted")
	}
	noTemp(t, lf.fs)
	// The range of a compacted source must be the run's.
	rewrite(t, lf, 1, 2, keepEven)
	r := lf.sources(t, lf.fs, 1, 2)
	r[0].End += 8
	if _, err := compaction.Rewrite(ctx, lf.fs, r, keepEven, nil); !errors.Is(err, compaction.ErrBadRun) {
		t.Errorf("compacted range mismatch: %v", err)
	}
}
