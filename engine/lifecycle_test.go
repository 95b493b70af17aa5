package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// TestCloseDuringCompactProgress: Close while a Compact runs a Progress
// callback that calls back into the store (Stats here; a read would do
// the same). Close used to wait for lifeMu exclusively while Compact held
// it shared: the callback's own shared lock then queued behind Close, and
// both hung.
func TestCloseDuringCompactProgress(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{SegmentSize: 64 << 10})
	appendT(t, s, "a", NoStream, ev("x"))
	if err := s.SetStreamMetadata(bg, "a", StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	compacted := make(chan error, 1)
	var once atomic.Bool
	go func() {
		_, err := s.Compact(bg, &CompactOptions{Progress: func(CompactProgress) {
			if once.CompareAndSwap(false, true) {
				go func() { closed <- s.Close() }()
				time.Sleep(200 * time.Millisecond) // Close is under way
			}
			_ = s.Stats()
			_, _ = s.StreamVersion("a")
		}})
		compacted <- err
	}()
	select {
	case err := <-compacted:
		// Stopped by Close, or done before it.
		if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
			t.Fatalf("Compact: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Compact, calling into the store from Progress, never returned while Close ran")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close never returned")
	}
	if _, err := s.Compact(bg, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Compact after Close: %v, want ErrClosed", err)
	}
}

// fileCountingFS counts the mapped files it opened or created that are
// not closed yet, and can refuse to open the index.
type fileCountingFS struct {
	wrapFS
	open          atomic.Int64
	failIndexOpen atomic.Bool
}

type countedFile struct {
	mmapfile.File
	fs *fileCountingFS
}

func (f *countedFile) Close() error {
	f.fs.open.Add(-1)
	return f.File.Close()
}

func newFileCountingFS(base mmapfile.FS) *fileCountingFS {
	c := &fileCountingFS{}
	c.wrapFS = wrapFS{base, func(f mmapfile.File) mmapfile.File {
		c.open.Add(1)
		return &countedFile{f, c}
	}}
	return c
}

func (c *fileCountingFS) Open(name string) (mmapfile.File, error) {
	if name == indexName && c.failIndexOpen.Load() {
		return nil, syscall.EIO
	}
	return c.wrapFS.Open(name)
}

// TestFailedOpenReleasesSpare: an Open that fails after it adopted a
// prepared spare segment closes it too. It used to stay mapped, a whole
// segment of address space per failed Open.
func TestFailedOpenReleasesSpare(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentSize: 1 << 20}
	s := openT(t, dir, o)
	data := strings.Repeat("x", 4000)
	for range 200 { // past half: a spare is prepared
		appendT(t, s, "a", Any, ev(data))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(dir, "spare-*.ready")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no spare prepared")
		}
	}
	closeT(t, s)

	base, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		t.Fatal(err)
	}
	cfs := newFileCountingFS(base)
	cfs.failIndexOpen.Store(true)
	for range 3 {
		if _, err := Open(dir, &Options{SegmentSize: 1 << 20, Storage: cfs}); !errors.Is(err, syscall.EIO) {
			t.Fatalf("Open: %v, want EIO", err)
		}
	}
	if n := cfs.open.Load(); n != 0 {
		t.Fatalf("%d mapped files still open after 3 failed Opens", n)
	}
	cfs.failIndexOpen.Store(false)
	s = openT(t, dir, &Options{SegmentSize: 1 << 20, Storage: cfs})
	if v, err := s.StreamVersion("a"); err != nil || v != 199 {
		t.Fatalf("StreamVersion after the failed Opens: %d, %v; want 199", v, err)
	}
	closeT(t, s)
}

// TestSpareFailureRetriedAtRoll: a spare that could not be prepared (the
// disk was full for a moment) does not fail the store at the next roll:
// the roll creates the segment itself, as it does when no spare is ready,
// and only its own failure fails the store.
func TestSpareFailureRetriedAtRoll(t *testing.T) {
	sim := simfs.New(simfs.Config{Seed: 1})
	s, err := Open("d", &Options{Storage: sim, SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sim.FailNth(simfs.OpCreate, 1) // the next Create, the spare's, finds the disk full
	data := strings.Repeat("x", 1000)
	for range 40 { // past half of the first segment: the spare is asked for
		appendT(t, s, "a", Any, ev(data))
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.spareCh) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the spare's preparation never ended")
		}
	}
	if n := sim.Stats().Injected; n != 1 {
		t.Fatalf("%d injected failures, want the spare's Create alone", n)
	}
	if st := s.Stats(); st.SpareFailures != 1 || !errors.Is(st.SpareError, syscall.ENOSPC) {
		t.Fatalf("Stats: SpareFailures %d, SpareError %v; want 1, ENOSPC", st.SpareFailures, st.SpareError)
	}
	for i := range 40 { // rolls to new segments, with room on the disk again
		if _, err := s.Append(bg, "a", Any, ev(data)); err != nil {
			t.Fatalf("append %d, past a roll after the disk has room again: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFaultDuringOpenReleasesFiles: an Open that fails on a memory fault
// (a page of the log the device cannot read back) releases every file it
// mapped. A fault reading a segment's header left that segment open, and
// one while the index was checked against the log (the clean index's log
// end, or a replay from its checkpoint) left the index open, and in the
// first case the last segment mapped: files that stayed open and mapped
// for as long as the process ran, more with every Open retried.
func TestFaultDuringOpenReleasesFiles(t *testing.T) {
	if !simfs.FaultsAttributed() {
		t.Skip("this machine does not report fault addresses (qemu-user for arm)")
	}
	for _, tc := range []struct {
		name  string
		clean bool
		at    func(records []AppendResult, end uint64) int64 // file offset in the segment
	}{
		// Open reads every segment's header.
		{"header", true, func([]AppendResult, uint64) int64 { return 0 }},
		// After a clean Close, it reads the log end the index names.
		{"clean-end", true, func(_ []AppendResult, end uint64) int64 { return int64(end) + segment.HeaderSize }},
		// After a crash, it replays the log from the index's checkpoint
		// (0 here), reading the records the index entries name through
		// the mapping: the newest one here.
		{"replay", false, func(r []AppendResult, _ uint64) int64 { return int64(r[29].Position) + segment.HeaderSize }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := simfs.New(simfs.Config{Seed: 1, Faultable: true})
			cfs := newFileCountingFS(sim)
			o := &Options{Storage: cfs, SegmentSize: 64 << 10, IndexSlots: 16}
			s := openT(t, "d", o)
			var records []AppendResult
			for i := range 30 {
				records = append(records, appendT(t, s, fmt.Sprintf("s%d", i%3), Any, ev(strings.Repeat("x", 500))))
			}
			end := s.committed.Load()
			name := (*s.segs.Load())[0].name // one segment: 30 small events
			if tc.clean {
				closeT(t, s)
			} else {
				s.crashForTest()
			}
			if n := cfs.open.Load(); n != 0 {
				t.Fatalf("%d mapped files open after the store stopped", n)
			}
			if err := sim.FaultPage(name, tc.at(records, end)); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := Open("d", o); !errors.Is(err, mmapfile.ErrFault) {
					t.Fatalf("Open over a faulting page: %v, want ErrFault", err)
				}
			}
			if n := cfs.open.Load(); n != 0 {
				t.Fatalf("%d mapped files still open after 3 failed Opens", n)
			}
		})
	}
}

// faultAfterRenameFS makes the slot page of the index file unreadable as
// soon as a new one is renamed into place: Rebuild's Puts into it fault.
type faultAfterRenameFS struct {
	*fileCountingFS
	sim *simfs.FS
}

func (f faultAfterRenameFS) Rename(oldName, newName string) error {
	if err := f.fileCountingFS.Rename(oldName, newName); err != nil {
		return err
	}
	if newName != indexName {
		return nil
	}
	return f.sim.FaultPage(newName, hashindex.HeaderSize) // the first slots' page
}

// TestFaultRebuildingIndexReleasesIt: an Open that rebuilds the index
// and faults filling the new file closes it. It stayed mapped, one index
// file per failed Open. (The fault here stands for a page of the new file
// the device cannot give back.)
func TestFaultRebuildingIndexReleasesIt(t *testing.T) {
	if !simfs.FaultsAttributed() {
		t.Skip("this machine does not report fault addresses (qemu-user for arm)")
	}
	sim := simfs.New(simfs.Config{Seed: 1, Faultable: true})
	cfs := newFileCountingFS(sim)
	o := &Options{Storage: cfs, SegmentSize: 64 << 10, IndexSlots: 16}
	s := openT(t, "d", o)
	for i := range 30 {
		appendT(t, s, fmt.Sprintf("s%d", i%3), Any, ev("x"))
	}
	closeT(t, s)
	o.Storage = faultAfterRenameFS{cfs, sim}
	for range 3 {
		if err := sim.Remove(indexName); err != nil {
			t.Fatal(err)
		}
		if _, err := Open("d", o); !errors.Is(err, mmapfile.ErrFault) {
			t.Fatalf("Open rebuilding into a faulting index: %v, want ErrFault", err)
		}
	}
	if n := cfs.open.Load(); n != 0 {
		t.Fatalf("%d mapped files still open after 3 failed Opens", n)
	}
}

// TestCompactStoppedByCloseSaysClosed: a Compact that Close stops returns
// ErrClosed, not context.Canceled: the caller's context never ended, and
// a caller telling its own cancellation from the store closing under it
// could not. (Found by the concurrent stress hunt.)
func TestCompactStoppedByCloseSaysClosed(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{SegmentSize: 64 << 10})
	for i := range 40 {
		appendT(t, s, "a", Any, Event{Type: "t", Data: make([]byte, 4000+i)})
	}
	if err := s.SetStreamMetadata(bg, "a", StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	var once atomic.Bool
	// Throttled: the rest of its work takes long after Close stops it.
	_, err := s.Compact(bg, &CompactOptions{BytesPerSecond: 4 << 10, Progress: func(CompactProgress) {
		if once.CompareAndSwap(false, true) {
			go func() { closed <- s.Close() }()
			<-s.stop // Close is under way
		}
	}})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Compact stopped by Close: %v, want ErrClosed", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestFaultWritingSpareHeaderReleasesIt: a roll writes the new segment's
// header into the prepared spare through the mapping; a fault there (a
// page the device cannot give back) fails the store, and Close must still
// release the spare's file, which no list held yet.
func TestFaultWritingSpareHeaderReleasesIt(t *testing.T) {
	if !simfs.FaultsAttributed() {
		t.Skip("this machine does not report fault addresses (qemu-user for arm)")
	}
	sim := simfs.New(simfs.Config{Seed: 1, Faultable: true})
	cfs := newFileCountingFS(sim)
	s := openT(t, "d", &Options{Storage: cfs, SegmentSize: 64 << 10})
	data := strings.Repeat("x", 1000)
	for range 40 { // past half the segment: the spare is asked for
		appendT(t, s, "a", Any, ev(data))
	}
	spare := ""
	for deadline := time.Now().Add(10 * time.Second); spare == "" && time.Now().Before(deadline); {
		names, err := sim.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if strings.HasPrefix(n, "spare-") && strings.HasSuffix(n, spareReady) {
				spare = n
			}
		}
		time.Sleep(time.Millisecond)
	}
	if spare == "" {
		t.Fatal("no spare prepared")
	}
	if err := sim.FaultPage(spare, 0); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ { // until the roll
		_, err = s.Append(bg, "a", Any, ev(data))
	}
	if !errors.Is(err, mmapfile.ErrFault) {
		t.Fatalf("append across the roll: %v, want the fault", err)
	}
	_ = s.Close()
	if n := cfs.open.Load(); n != 0 {
		t.Fatalf("%d mapped files open after Close", n)
	}
}
