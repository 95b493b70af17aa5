package engine

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// adviseRecorder is an FS that checks every AdviseWillWrite the engine
// gives (see faultAheadLocked) as it is given: it must name the newest
// segment (the active one) and must not start on a page before the one
// holding the log end, whose pages hold records already and would be
// dirtied again. It also records how far each file was advised.
type adviseRecorder struct {
	mmapfile.FS
	t        *testing.T
	mu       sync.Mutex
	advised  map[string]int64 // file name → end of the advised ranges so far
	calls    int
	problems []string
}

type adviseRecorderFile struct {
	mmapfile.File
	r *adviseRecorder
}

func (r *adviseRecorder) Create(name string, size int64) (mmapfile.File, error) {
	f, err := r.FS.Create(name, size)
	if err != nil {
		return nil, err
	}
	return &adviseRecorderFile{File: f, r: r}, nil
}

func (r *adviseRecorder) Open(name string) (mmapfile.File, error) {
	f, err := r.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &adviseRecorderFile{File: f, r: r}, nil
}

func (f *adviseRecorderFile) Advise(off, n int64, advice mmapfile.Advice) {
	if advice == mmapfile.AdviseWillWrite {
		f.r.check(f.File, off, n)
	}
	f.File.Advise(off, n, advice)
}

func (r *adviseRecorder) check(f mmapfile.File, off, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	problem := func(format string, args ...any) {
		r.problems = append(r.problems, fmt.Sprintf("%s [%d, %d): ", f.Name(), off, off+n)+fmt.Sprintf(format, args...))
	}
	names, err := r.FS.List()
	if err != nil {
		r.t.Error(err)
		return
	}
	newest := ""
	for _, name := range names {
		if _, ok := segment.ParseFileName(name); ok {
			newest = name // List is sorted, and so are segment names
		}
	}
	if f.Name() != newest {
		problem("not the active segment %s", newest)
	}
	page := int64(os.Getpagesize())
	data := f.Bytes()
	end := int64(len(data)) // the log end: where only zeros follow
	for end > 0 && data[end-1] == 0 {
		end--
	}
	if off&^(page-1) < end&^(page-1) {
		problem("starts on a page before the log end's (%d)", end)
	}
	prev, ok := r.advised[f.Name()]
	switch {
	case ok && off > prev:
		problem("leaves [%d, %d) out", prev, off)
	case !ok && off&^(page-1) != end&^(page-1):
		problem("the first advice of the segment does not start on the log end's page (%d)", end)
	}
	r.advised[f.Name()] = max(r.advised[f.Name()], off+n)
}

// TestFaultAheadAdvisesOnlyPagesToWrite runs NoSync appends over many
// rolls and a reopen, with the writer's fault-ahead watched: every advice
// names the active segment, starts no earlier than the page of the log
// end, and the advised ranges of a segment leave no gap, so that they
// cover every page its records were stored into.
func TestFaultAheadAdvisesOnlyPagesToWrite(t *testing.T) {
	dir := t.TempDir()
	inner, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		t.Fatal(err)
	}
	r := &adviseRecorder{FS: inner, t: t, advised: map[string]int64{}}
	o := &Options{Storage: r, Durability: NoSync, SegmentSize: 64 << 10}
	data := strings.Repeat("x", 300)
	total := 0
	for round := range 2 { // the second round continues a segment after a reopen
		s := openT(t, dir, o)
		for i := range 1500 {
			appendT(t, s, fmt.Sprintf("s-%d", i%7), Any, ev(data))
			total++
		}
		if round == 0 {
			closeT(t, s)
			continue
		}
		if got := len(collect(t, s.ReadAll(0))); got != total {
			t.Fatalf("ReadAll: %d events, want %d", got, total)
		}
		if rolls := s.Stats().SegmentRolls; rolls < 5 {
			t.Fatalf("%d rolls: the test needs many", rolls)
		}
		closeT(t, s)
	}
	if len(r.problems) > 0 {
		t.Fatalf("%d bad advices, the first: %s", len(r.problems), strings.Join(r.problems[:min(5, len(r.problems))], "; "))
	}
	// Every segment's records lie in what was advised.
	names, err := inner.List()
	if err != nil {
		t.Fatal(err)
	}
	segments := 0
	for _, name := range names {
		if _, ok := segment.ParseFileName(name); !ok {
			continue
		}
		segments++
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		end := int64(len(b))
		for end > 0 && b[end-1] == 0 {
			end--
		}
		if advised, ok := r.advised[name]; !ok || advised < end {
			t.Fatalf("%s: records end at %d, advised through %d (%v)", name, end, advised, ok)
		}
	}
	if segments < 5 {
		t.Fatalf("%d segments", segments)
	}
	// One advice covers writeAhead, more than a whole test segment: one per
	// segment and open, not one per append.
	if r.calls > segments+2 {
		t.Fatalf("%d advices for %d segments", r.calls, segments)
	}
}
