package engine

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

// writePaths are the SyncEachCommit write paths: staged (the default) and
// through the mapping.
var writePaths = []struct {
	name   string
	mapped bool
}{{"staged", false}, {"mapped", true}}

// TestConcurrentAppendsToOneStream makes appenders build on records that
// are not yet committed: stream heads, skip targets and retried batches
// are read back from the stage or from chunks being written. Afterwards
// every chain and skip pointer must hold, before and after a reopen.
func TestConcurrentAppendsToOneStream(t *testing.T) {
	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{MappedWrites: p.mapped, SegmentSize: 128 << 10, IndexSlots: 16}
			s := openT(t, dir, opts)
			const writers, perWriter = 16, 120
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perWriter {
						if _, err := s.Append(bg, "hot", Any, ev(fmt.Sprintf("%d/%d", w, i))); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if s.Stats().Commits >= writers*perWriter {
				t.Logf("no group commits happened (%d commits): the stage was never read", s.Stats().Commits)
			}
			checkHotStream(t, s, writers*perWriter)
			closeT(t, s)
			s = openT(t, dir, opts)
			defer closeT(t, s)
			checkHotStream(t, s, writers*perWriter)
		})
	}
}

// checkHotStream reads the stream whole and forward from random versions
// (seeking through skip pointers), checking versions are contiguous.
func checkHotStream(t *testing.T, s *Store, n int) {
	t.Helper()
	all := collect(t, s.ReadStream("hot", 0, Forward))
	if len(all) != n {
		t.Fatalf("%d events, want %d", len(all), n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		from := rng.Int64N(int64(n))
		for e, err := range s.ReadStream("hot", from, Forward) {
			if err != nil {
				t.Fatalf("read from %d: %v", from, err)
			}
			if e.Version != from || e.Position != all[from].Position {
				t.Fatalf("read from %d returned version %d at %d, want %d at %d", from, e.Version, e.Position, from, all[from].Position)
			}
			break
		}
	}
}

// gatedFS holds every WriteAt until the test opens the gate, so that
// records stay staged or in flight as long as the test needs; and it keeps
// per file a copy of what each Sync made durable.
type gatedFS struct {
	wrapFS
	gate    chan struct{} // WriteAt waits for it to be closed (nil: no wait)
	entered chan struct{} // receives once per WriteAt that waits

	mu      sync.Mutex
	durable map[string][]byte // per file: the bytes as of the Syncs covering them
}

type gatedFile struct {
	mmapfile.File
	fs *gatedFS
}

func (f *gatedFile) WriteAt(p []byte, off int64) error {
	if f.fs.gate != nil {
		f.fs.entered <- struct{}{}
		<-f.fs.gate
	}
	return f.File.WriteAt(p, off)
}

// Sync records the content of the pages it covers (what msync makes
// durable) as it is when Sync is called: bytes written during the sync
// may or may not be durable, so they do not count.
func (f *gatedFile) Sync(off, n int64) error {
	if n <= 0 {
		return f.File.Sync(off, n)
	}
	const page = 4096
	lo, hi := off&^(page-1), min((off+n+page-1)&^(page-1), f.Size())
	f.fs.mu.Lock()
	d := f.fs.durable[f.Name()]
	if d == nil {
		d = make([]byte, f.Size())
		f.fs.durable[f.Name()] = d
	}
	copy(d[lo:hi], f.Bytes()[lo:hi])
	f.fs.mu.Unlock()
	return f.File.Sync(off, n)
}

// notDurable returns the first offset in [from, to) of file f whose
// durable copy differs from its current content, or -1.
func (g *gatedFS) notDurable(f mmapfile.File, from, to int64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.durable[f.Name()]
	live := f.Bytes()
	for i := from; i < to; i++ {
		if d == nil || d[i] != live[i] {
			return i
		}
	}
	return -1
}

func newGatedFS(t *testing.T, gated bool) (*gatedFS, string) {
	dir := t.TempDir()
	base, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedFS{durable: map[string][]byte{}}
	g.wrapFS = wrapFS{base, func(f mmapfile.File) mmapfile.File { return &gatedFile{f, g} }}
	if gated {
		g.gate = make(chan struct{})
		g.entered = make(chan struct{}, 16)
	}
	return g, dir
}

// TestRetryOfUncommittedAppend retries appends whose records are still
// being written by the committer, or still staged: both must be recognised
// as retries and get the original's result.
func TestRetryOfUncommittedAppend(t *testing.T) {
	g, dir := newGatedFS(t, true)
	s := openT(t, dir, &Options{Storage: g})
	defer closeT(t, s)
	var open sync.Once
	openGate := func() { open.Do(func() { close(g.gate) }) }
	defer openGate() // before Close, which waits for the committer

	type outcome struct {
		res AppendResult
		err error
	}
	run := func(expected int64, events ...Event) chan outcome {
		ch := make(chan outcome, 1)
		go func() {
			res, err := s.Append(bg, "s", expected, events...)
			ch <- outcome{res, err}
		}()
		return ch
	}
	waiting := func(n int) { // until n appenders wait for a commit
		t.Helper()
		for range 5000 {
			s.mu.Lock()
			k := 0
			if s.group != nil {
				k = s.group.waiting
			}
			s.mu.Unlock()
			if k >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("fewer than %d appenders waiting", n)
	}

	a := run(NoStream, evID(1, "a"), evID(2, "b"))
	<-g.entered // the committer holds a's records, in flight
	b := run(NoStream, evID(1, "a"), evID(2, "b"))
	waiting(1) // b waits: it was recognised as a retry of in-flight records
	c := run(1, evID(3, "c"))
	waiting(2)
	d := run(1, evID(3, "c")) // c's record is staged, not yet taken
	waiting(3)
	openGate()
	oa, ob, oc, od := <-a, <-b, <-c, <-d
	for _, o := range []outcome{oa, ob, oc, od} {
		if o.err != nil {
			t.Fatal(o.err)
		}
	}
	if oa.res != ob.res || oc.res != od.res || oc.res.FirstVersion != 2 {
		t.Fatalf("results a %+v b %+v c %+v d %+v", oa.res, ob.res, oc.res, od.res)
	}
	if got := collect(t, s.ReadStream("s", 0, Forward)); len(got) != 3 {
		t.Fatalf("%d events, want 3", len(got))
	}
}

// TestSyncCoversStagedAppends checks that Sync in SyncEachCommit mode
// returns only when every earlier append is written and durable, including
// appends still staged or being written whose appenders are still waiting.
func TestSyncCoversStagedAppends(t *testing.T) {
	t.Run("held", func(t *testing.T) {
		g, dir := newGatedFS(t, true)
		s := openT(t, dir, &Options{Storage: g})
		defer closeT(t, s)
		var open sync.Once
		openGate := func() { open.Do(func() { close(g.gate) }) }
		defer openGate()
		go func() { _, _ = s.Append(bg, "a", NoStream, ev("x")) }()
		<-g.entered // a's record is being written
		go func() { _, _ = s.Append(bg, "b", NoStream, ev("y")) }()
		for s.Stats().Events < 2 {
			time.Sleep(time.Millisecond)
		}
		s.mu.Lock()
		written, seg := s.written, s.active
		s.mu.Unlock()
		synced := make(chan error, 1)
		go func() { synced <- s.Sync() }()
		select {
		case err := <-synced:
			t.Fatalf("Sync returned (%v) while appended records were still being written", err)
		case <-time.After(50 * time.Millisecond):
		}
		openGate()
		if err := <-synced; err != nil {
			t.Fatal(err)
		}
		if c := s.committed.Load(); c < written {
			t.Fatalf("Sync returned with committed %d below %d, written before it", c, written)
		}
		if off := g.notDurable(seg.file, seg.offset(seg.base), seg.offset(written)); off >= 0 {
			t.Fatalf("Sync returned with byte %d of %s not durable", off, seg.name)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		g, dir := newGatedFS(t, false)
		s := openT(t, dir, &Options{Storage: g})
		defer closeT(t, s)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					if _, err := s.Append(bg, fmt.Sprintf("s%d", w), int64(i)-1, ev("x")); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		check := func() {
			t.Helper()
			s.mu.Lock()
			written, seg := s.written, s.active
			s.mu.Unlock()
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			if c := s.committed.Load(); c < written {
				t.Fatalf("Sync returned with committed %d below %d, written before it", c, written)
			}
			if off := g.notDurable(seg.file, seg.offset(seg.base), seg.offset(written)); off >= 0 {
				t.Fatalf("Sync returned with byte %d of %s not durable; appends wrote through %d before Sync began", off, seg.name, seg.offset(written))
			}
		}
		for range 50 {
			check()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		check()
	})
}

// TestFailedAppendLeavesNoBytes makes an append fail after it reserved its
// space (a corrupt skip target), then closes: nothing of the failed append
// may reach the file, so the next Open finds the log end where Close left
// it and reuses the index.
func TestFailedAppendLeavesNoBytes(t *testing.T) {
	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{MappedWrites: p.mapped}
			s := openT(t, dir, opts)
			for range 3 {
				appendT(t, s, "y", Any, ev(strings.Repeat("Y", 3000)))
			}
			v0 := appendT(t, s, "x", Any, ev("v0"))
			appendT(t, s, "x", Any, ev("v1"))
			// Damage v0, the skip target of x's next record, in place.
			data := s.active.data
			off := s.active.offset(v0.Position) + segment.RecordHeaderSize
			data[off] ^= 0xFF
			_, err := s.Append(bg, "x", Any, ev(strings.Repeat("z", 2000)), ev("z"))
			wantErrIs(t, err, ErrCorrupt)
			data[off] ^= 0xFF // only what the failed append left remains
			closeT(t, s)

			s = openT(t, dir, opts)
			defer closeT(t, s)
			if r := s.Recovered(); !r.Clean {
				t.Fatalf("reopen after Close was not clean: %+v", r)
			}
			if got := collect(t, s.ReadStream("x", 0, Forward)); len(got) != 2 {
				t.Fatalf("x has %d events, want 2", len(got))
			}
		})
	}
}
