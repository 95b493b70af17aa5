package engine

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/mmapfile/simfs"
)

// slowSyncFS makes the first armed segment Sync take a while, so that a
// second caller queues behind it.
type slowSyncFS struct {
	wrapFS
	armed atomic.Bool
}

type slowSyncFile struct {
	mmapfile.File
	fs *slowSyncFS
}

func (f slowSyncFile) Sync(off, n int64) error {
	err := f.File.Sync(off, n)
	if f.fs.armed.CompareAndSwap(true, false) {
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// TestSyncAfterFailedSyncFails: once an msync failed, the kernel may have
// marked the lost pages clean, and msyncing them again "succeeds" without
// writing anything. A Sync that queued behind the failing one must fail
// too, not report success and checkpoint the index over lost records.
func TestSyncAfterFailedSyncFails(t *testing.T) {
	for seed := range uint64(4) {
		sim := simfs.New(simfs.Config{Seed: seed})
		fs := &slowSyncFS{}
		fs.wrapFS = wrapFS{sim, func(f mmapfile.File) mmapfile.File { return slowSyncFile{f, fs} }}
		s, err := Open("syncrace", &Options{Storage: fs, Durability: NoSync, SegmentSize: 64 << 10, IndexSlots: 16})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			appendT(t, s, "a", int64(i)-1, ev("x"))
		}
		sim.FailNth(simfs.OpSync, 1)
		fs.armed.Store(true)
		first := make(chan error, 1)
		go func() { first <- s.Sync() }()
		time.Sleep(10 * time.Millisecond) // the first Sync is in its msync
		second := s.Sync()
		if err := <-first; !errors.Is(err, ErrFailed) {
			t.Fatalf("seed %d: the Sync whose msync failed returned %v", seed, err)
		}
		if !errors.Is(second, ErrFailed) {
			t.Fatalf("seed %d: a Sync after a failed msync returned %v, want ErrFailed", seed, second)
		}
		_ = s.Close()
	}
}

// TestSyncRacingClose: Sync in the modes that sync on demand may run while
// Close releases the files; it must return (ErrClosed or nil), not touch a
// released index, and never leave the index unclean after Close.
func TestSyncRacingClose(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100 {
		dir := t.TempDir()
		opts := &Options{Durability: []Durability{NoSync, SyncInterval}[i%2], SegmentSize: 64 << 10, IndexSlots: 16}
		s := openT(t, dir, opts)
		appendT(t, s, "a", NoStream, ev("x"))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := s.Sync(); err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Sync racing Close: %v", err)
					return
				}
			}
		}()
		time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		s = openT(t, dir, opts)
		if rec := s.Recovered(); !rec.Clean {
			t.Fatalf("round %d: open after a clean Close: %+v", i, rec)
		}
		closeT(t, s)
	}
}
