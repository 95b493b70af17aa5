package recovery

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

func TestTruncateAtDamagedRecord(t *testing.T) {
	f := standardFixture(t)
	f.close(true)
	// The second record of a three-record batch in the middle segment.
	var r fixRec
	for _, x := range f.order {
		if x.seg == f.names[1] && x.off > x.batch && x.off < f.segEnd[1]/2 {
			r = x
			break
		}
	}
	f.patch(r.seg, func(b []byte) { b[r.off+segment.RecordHeaderSize+1] ^= 0x40 })
	before := snapshot(t, f.dir)

	base, _ := segment.ParseFileName(r.seg)
	cutPos := base + uint64(r.batch-segment.HeaderSize)
	var kept, after int64
	for _, x := range f.order {
		if x.pos < cutPos {
			kept++
		} else if x.pos != r.pos {
			after++
		}
	}
	want := TruncatePlan{Segment: r.seg, Damage: r.off, Offset: r.batch, Position: cutPos, Later: f.names[2:],
		Records: int(after), Bytes: f.segEnd[1] - r.batch + f.segEnd[2] - segment.HeaderSize}
	plan, err := PlanTruncate(f.dir, r.seg, r.off)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan\n%+v\nwant\n%+v", plan, want)
	}
	if !reflect.DeepEqual(before, snapshot(t, f.dir)) {
		t.Fatal("PlanTruncate changed the directory")
	}

	done, err := Truncate(f.dir, r.seg, r.off)
	if err != nil {
		t.Fatal(err)
	}
	want.Saved = []string{r.seg + BrokenSuffix, f.names[2] + BrokenSuffix}
	if !reflect.DeepEqual(done, want) {
		t.Fatalf("carried out\n%+v\nwant\n%+v", done, want)
	}
	now := snapshot(t, f.dir)
	for _, name := range f.names[1:] {
		if now[name+BrokenSuffix] != before[name] {
			t.Fatalf("%s%s does not hold the segment as it was", name, BrokenSuffix)
		}
	}
	if _, ok := now[DefaultIndexName]; ok {
		t.Fatal("index not removed")
	}
	if _, ok := now[f.names[2]]; ok {
		t.Fatal("later segment still in the log")
	}
	rep := verifyT(t, f.dir)
	if !rep.OK() || rep.Records != kept || rep.LogEnd != cutPos || rep.Segments != 2 || rep.TornBytes != 0 {
		t.Fatalf("after the cut: %+v\n%s", rep, problemText(rep))
	}
	// The kept segment is zero from the cut on, so the space can be reused.
	if tail := now[r.seg][r.batch:]; strings.Trim(tail, "\x00") != "" {
		t.Fatal("the cut segment is not zero after the cut")
	}

	// Run again, the copy now differs from the segment: refused.
	if _, err := Truncate(f.dir, r.seg, r.off); !errors.Is(err, ErrBrokenExists) {
		t.Fatalf("second Truncate: %v, want ErrBrokenExists", err)
	}
	if _, err := PlanTruncate(f.dir, "0000000000000001.seg", 200); !errors.Is(err, ErrNoSegment) {
		t.Fatalf("unknown segment: %v", err)
	}
}

func TestTruncateDamagedHeader(t *testing.T) {
	f := standardFixture(t)
	f.close(false)
	f.patch(f.names[1], func(b []byte) { b[20] ^= 1 })
	before := snapshot(t, f.dir)
	done, err := Truncate(f.dir, f.names[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	base1, _ := segment.ParseFileName(f.names[1])
	if done.Offset != 0 || done.Position != base1 || !slices.Equal(done.Later, f.names[2:]) ||
		!slices.Equal(done.Saved, []string{f.names[2] + BrokenSuffix, f.names[1] + BrokenSuffix}) {
		t.Fatalf("plan %+v", done)
	}
	for _, name := range f.names[1:] {
		b, err := os.ReadFile(filepath.Join(f.dir, name+BrokenSuffix))
		if err != nil || string(b) != before[name] {
			t.Fatalf("%s not moved aside intact: %v", name, err)
		}
	}
	rep := verifyT(t, f.dir)
	var kept int64
	for _, x := range f.order {
		if x.seg == f.names[0] {
			kept++
		}
	}
	if !rep.OK() || rep.Segments != 1 || rep.Records != kept || rep.LogEnd != uint64(f.segEnd[0]-segment.HeaderSize) {
		t.Fatalf("after the cut: %+v\n%s", rep, problemText(rep))
	}
}

// The engine lists segments with segment.ParseFileName: the copies
// Truncate leaves must never be taken for segments.
func TestBrokenCopiesAreNotSegments(t *testing.T) {
	name := segment.FileName(0x3fffc00)
	for _, n := range []string{name + BrokenSuffix, name + BrokenSuffix + ".tmp"} {
		if _, ok := segment.ParseFileName(n); ok {
			t.Errorf("ParseFileName accepts %q", n)
		}
	}
}

// openFailFS fails Open of one file with err, as a process out of file
// descriptors or address space would.
type openFailFS struct {
	mmapfile.FS
	name string
	err  error
}

func (f openFailFS) Open(name string) (mmapfile.File, error) {
	if name == f.name {
		return nil, f.err
	}
	return f.FS.Open(name)
}

// TestPlanTruncateKeepsOpenErrors: a segment that cannot be opened for a
// reason other than being empty is not a segment with nothing in it. The
// plan took it for one: it counted none of its records as lost, and the
// cut moved it aside with the rest.
func TestPlanTruncateKeepsOpenErrors(t *testing.T) {
	f := standardFixture(t)
	f.close(true)
	fsys, err := mmapfile.OpenDir(f.dir, mmapfile.PrepFallocate)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := listSegments(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, failing := range f.names[1:] {
		_, err := planTruncate(openFailFS{fsys, failing, syscall.EMFILE}, segs, f.names[1], segment.HeaderSize+8)
		if !errors.Is(err, syscall.EMFILE) {
			t.Fatalf("plan with %s failing to open: %v, want EMFILE", failing, err)
		}
	}
	// An empty file is a segment with nothing in it.
	all, err := planTruncate(fsys, segs, f.names[1], segment.HeaderSize+8)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planTruncate(openFailFS{fsys, f.names[2], mmapfile.ErrEmptyFile}, segs, f.names[1], segment.HeaderSize+8)
	if err != nil || plan.Records >= all.Records || plan.Bytes >= all.Bytes {
		t.Fatalf("plan with an empty later segment: %+v, %v (with it: %+v)", plan, err, all)
	}
}
