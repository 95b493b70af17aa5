package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

// faultyFS fails every file Sync once failSyncs is set, and every WriteAt
// once failWrites is set.
type faultyFS struct {
	wrapFS
	failSyncs  atomic.Bool
	failWrites atomic.Bool
}

func newFaultyFS(base mmapfile.FS) *faultyFS {
	f := &faultyFS{}
	f.wrapFS = wrapFS{base, func(file mmapfile.File) mmapfile.File { return &faultyFile{file, f} }}
	return f
}

type faultyFile struct {
	mmapfile.File
	fs *faultyFS
}

func (f *faultyFile) Sync(off, n int64) error {
	if f.fs.failSyncs.Load() {
		return syscall.EIO
	}
	return f.File.Sync(off, n)
}

func (f *faultyFile) WriteAt(p []byte, off int64) error {
	if f.fs.failWrites.Load() {
		return syscall.EIO
	}
	return f.File.WriteAt(p, off)
}

// TestWriteErrorFailsStore: a failed pwrite of staged records fails the
// store for good, every later call reports that (not corruption), and a
// reopen keeps what was acknowledged.
func TestWriteErrorFailsStore(t *testing.T) {
	dir := t.TempDir()
	base, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		t.Fatal(err)
	}
	ffs := newFaultyFS(base)
	s := openT(t, dir, &Options{Storage: ffs})
	for i := range 10 {
		appendT(t, s, "a", int64(i)-1, ev(fmt.Sprint(i)))
	}
	ffs.failWrites.Store(true)
	_, err = s.Append(bg, "a", 9, ev("lost"))
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("first error %v, want ErrFailed wrapping EIO", err)
	}
	ffs.failWrites.Store(false)
	_, err = s.Append(bg, "a", Any, ev("x"))
	wantErrIs(t, err, ErrFailed)
	wantErrIs(t, s.Sync(), ErrFailed)
	wantErrIs(t, s.Close(), ErrFailed) // it still releases the directory: the Open below takes it
	s = openT(t, dir, nil)
	defer closeT(t, s)
	if got := collect(t, s.ReadStream("a", 0, Forward)); len(got) != 10 {
		t.Fatalf("%d events after reopen, want the 10 acknowledged", len(got))
	}
}

func TestSyncErrorFailsStore(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			base, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
			if err != nil {
				t.Fatal(err)
			}
			ffs := newFaultyFS(base)
			s := openT(t, dir, &Options{Storage: ffs, Durability: d})
			for i := range 10 {
				appendT(t, s, "a", int64(i)-1, ev(fmt.Sprint(i)))
			}
			if d == NoSync {
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			ffs.failSyncs.Store(true)
			var err1 error
			if d == SyncEachCommit {
				_, err1 = s.Append(bg, "a", 9, ev("lost"))
			} else {
				appendT(t, s, "a", 9, ev("unsynced"))
				err1 = s.Sync()
			}
			if !errors.Is(err1, ErrFailed) || !errors.Is(err1, syscall.EIO) {
				t.Fatalf("first error %v, want ErrFailed wrapping EIO", err1)
			}
			// Failed is sticky, even though syncs would work again: the
			// kernel may have dropped the pages that failed.
			ffs.failSyncs.Store(false)
			_, err = s.Append(bg, "b", Any, ev("x"))
			wantErrIs(t, err, ErrFailed)
			_, err = collectErr(s.ReadStream("a", 0, Forward))
			wantErrIs(t, err, ErrFailed)
			wantErrIs(t, s.Sync(), ErrFailed)
			wantErrIs(t, s.Close(), ErrFailed) // it still releases the directory: the Open below takes it

			s = openT(t, dir, nil)
			defer closeT(t, s)
			if s.Recovered().Clean {
				t.Fatal("a failed store's index was marked clean")
			}
			got := collect(t, s.ReadStream("a", 0, Forward))
			if len(got) < 10 {
				t.Fatalf("%d events after reopen; the 10 acknowledged ones must survive", len(got))
			}
		})
	}
}

// skipUnlessNativeFaults skips tests that take a memory fault on purpose
// where the fault cannot be attributed to a file: qemu-user does not
// report faulting addresses, and the CI runs natively on amd64 only.
func skipUnlessNativeFaults(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("fault addresses are reported natively on the amd64 CI machine only")
	}
}

// TestFaultBecomesError truncates a mapped segment from outside and reads
// it: the process must survive, the read must fail with a FaultError and
// the store must refuse further work. Native only: qemu-user cannot report
// the faulting address, so the fault cannot be attributed to a file there.
func TestFaultBecomesError(t *testing.T) {
	skipUnlessNativeFaults(t)
	dir := t.TempDir()
	s := openT(t, dir, &Options{SegmentSize: 1 << 20})
	for i := range 200 {
		appendT(t, s, "a", Any, Event{Data: make([]byte, 3000), Type: fmt.Sprint(i)})
	}
	if err := os.Truncate(lastSegmentPath(t, dir), 4096); err != nil {
		t.Fatal(err)
	}
	_, err := collectErr(s.ReadStream("a", 0, Forward))
	var fe *mmapfile.FaultError
	if !errors.As(err, &fe) || fe.File != "0000000000000000.seg" {
		t.Fatalf("read of a truncated segment: %v", err)
	}
	_, err = s.Append(bg, "a", Any, ev("x"))
	wantErrIs(t, err, ErrFailed)
	wantErrIs(t, err, mmapfile.ErrFault)
	_ = s.Close()
}

// TestConcurrentAppendsAndReads runs writers and readers together; every
// acknowledged event must be readable, and every read must be a
// consistent snapshot: contiguous versions, in order, never more than
// what was committed when it started.
func TestConcurrentAppendsAndReads(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			s := openT(t, t.TempDir(), &Options{Durability: d, SegmentSize: 256 << 10, IndexSlots: 16})
			defer closeT(t, s)
			const writers, perWriter, streams = 8, 150, 12
			var wg sync.WaitGroup
			var acked [streams]atomic.Int64
			for i := range streams {
				acked[i].Store(-1)
			}
			stop := make(chan struct{})
			errs := make(chan error, 64)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perWriter {
						k := (w*perWriter + i) % streams
						res, err := s.Append(bg, fmt.Sprintf("s%d", k), Any, ev("x"), ev("y"))
						if err != nil {
							errs <- err
							return
						}
						for {
							cur := acked[k].Load()
							if res.LastVersion <= cur || acked[k].CompareAndSwap(cur, res.LastVersion) {
								break
							}
						}
					}
				}()
			}
			var rg sync.WaitGroup
			for r := range 3 {
				rg.Add(1)
				go func() {
					defer rg.Done()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						k := (r + n) % streams
						floor := acked[k].Load() // acknowledged before the read started
						var last int64 = -1
						for e, err := range s.ReadStream(fmt.Sprintf("s%d", k), 0, Forward) {
							if err != nil {
								errs <- err
								return
							}
							if e.Version != last+1 {
								errs <- fmt.Errorf("s%d: version %d after %d", k, e.Version, last)
								return
							}
							last = e.Version
						}
						if last < floor {
							errs <- fmt.Errorf("s%d: read up to %d, but %d was acknowledged before", k, last, floor)
							return
						}
						var prev uint64
						for e, err := range s.ReadAll(0) {
							if err != nil || (prev != 0 && e.Position <= prev) {
								errs <- fmt.Errorf("ReadAll: %v at %d after %d", err, e.Position, prev)
								return
							}
							prev = e.Position
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			rg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n := len(collect(t, s.ReadAll(0))); n != writers*perWriter*2 {
				t.Fatalf("%d events, want %d", n, writers*perWriter*2)
			}
		})
	}
}

func TestSnapshotIsolation(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer closeT(t, s)
	for i := range 5 {
		appendT(t, s, "a", Any, ev(fmt.Sprint(i)))
	}
	n := 0
	for range s.ReadStream("a", End, Backward) {
		if n == 0 {
			appendT(t, s, "a", Any, ev("later")) // committed mid-read
		}
		n++
	}
	if n != 5 {
		t.Fatalf("backward read saw %d events, want the 5 of its snapshot", n)
	}
	n = 0
	for range s.ReadAll(0) {
		if n == 0 {
			appendT(t, s, "b", Any, ev("later"))
		}
		n++
	}
	if n != 6 {
		t.Fatalf("ReadAll saw %d events, want 6", n)
	}
}

// TestFaultWhileHandingOutEvents truncates the segment from outside while
// a read hands out a chunk it decoded. Building the events reads their
// stream IDs and types from the mapping, and did so outside the fault
// guard: the process died of SIGBUS. Native only (see TestFaultBecomesError).
func TestFaultWhileHandingOutEvents(t *testing.T) {
	skipUnlessNativeFaults(t)
	reads := map[string]func(s *Store) func(func(RecordedEvent, error) bool){
		"ReadAll":        func(s *Store) func(func(RecordedEvent, error) bool) { return s.ReadAll(0) },
		"ReadStream fwd": func(s *Store) func(func(RecordedEvent, error) bool) { return s.ReadStream("a", 0, Forward) },
		"ReadStream bwd": func(s *Store) func(func(RecordedEvent, error) bool) { return s.ReadStream("a", End, Backward) },
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, &Options{SegmentSize: 1 << 20})
			for i := range 2*readChunk + 10 { // the second chunk's decoding faults
				// Types vary, so each event's type is compared with the last.
				appendT(t, s, "a", Any, Event{Type: fmt.Sprint("t", i), Data: make([]byte, 2000+i)})
			}
			if err := s.SetStreamMetadata(bg, "a", StreamMetadata{MaxCount: 1000}); err != nil {
				t.Fatal(err) // so that ReadAll applies retention to the chunk too
			}
			n := 0
			var rerr error
			for _, err := range read(s) {
				if err != nil {
					rerr = err
					break
				}
				if n == 0 { // the rest of the chunk is decoded, not yet handed out
					if err := os.Truncate(lastSegmentPath(t, dir), 0); err != nil {
						t.Fatal(err)
					}
				}
				n++
			}
			var fe *mmapfile.FaultError
			if !errors.As(rerr, &fe) {
				t.Fatalf("after %d events: %v, want a FaultError", n, rerr)
			}
			_, err := s.Append(bg, "a", Any, ev("x"))
			wantErrIs(t, err, ErrFailed)
			_ = s.Close()
		})
	}
}

// TestFaultInCompactFailsTheStore: a memory fault while Compact reads a
// segment truncated from outside came back from Compact, but left the
// store usable: appends were acknowledged as if nothing had happened.
// Native only (see TestFaultBecomesError).
func TestFaultInCompactFailsTheStore(t *testing.T) {
	skipUnlessNativeFaults(t)
	dir := t.TempDir()
	s := openT(t, dir, &Options{SegmentSize: 64 << 10})
	for i := range 100 {
		appendT(t, s, fmt.Sprintf("s%d", i%4), Any, Event{Type: "t", Data: make([]byte, 3000)})
	}
	if err := s.DeleteStream(bg, "s0", Any); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().Segments; n < 3 {
		t.Fatalf("only %d segments", n)
	}
	if err := os.Truncate(filepath.Join(dir, "0000000000000000.seg"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Compact(bg, &CompactOptions{BytesPerSecond: -1})
	var fe *mmapfile.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("Compact over a truncated segment: %v, want a FaultError", err)
	}
	wantErrIs(t, err, ErrFailed)
	_, err = s.Append(bg, "s1", Any, ev("after the fault"))
	wantErrIs(t, err, ErrFailed)
	_, err = s.StreamVersion("s1")
	wantErrIs(t, err, ErrFailed)
	_ = s.Close()
}

// TestAppendAfterOutsideTruncation: in SyncEachCommit mode records reach
// the active segment through pwrite, not the mapping, so a truncation
// from outside never faulted. An append was acknowledged into a file
// pwrite extended again, sparse, with zeros where the acknowledged records
// before it were; Close returned nil and marked the index clean; the next
// Open refused the store. Now the write finds the file shorter than its
// mapping and fails the store. No signal is involved: it runs under qemu.
func TestAppendAfterOutsideTruncation(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, &Options{SegmentSize: 1 << 20})
	for range 20 {
		appendT(t, s, "a", Any, Event{Type: "t", Data: make([]byte, 3000)})
	}
	if err := os.Truncate(lastSegmentPath(t, dir), 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(bg, "b", Any, ev("after the cut"))
	wantErrIs(t, err, ErrFailed)
	wantErrIs(t, err, mmapfile.ErrTruncated)
	wantErrIs(t, s.Close(), ErrFailed)
}
