package crash

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// TestUnsyncedGroupAcrossRoll: appends not yet synced end one segment and
// start the next (a roll inside one unsynced group). If the kernel wrote
// the new segment's pages back before the old one's and the power failed,
// the old segment would stop short while the new one holds records, which
// recovery must treat as damage (it cannot tell it from damage). So the
// engine makes the old segment durable before it writes into the new one:
// after the crash the old segment is whole and the store opens.
//
// Found by TestRandomCrashStates, seed 1772 (SyncEachCommit, group commit
// spanning a roll); reproduced here deterministically with NoSync.
func TestUnsyncedGroupAcrossRoll(t *testing.T) {
	const segSize = 64 << 10
	fs := simfs.New(simfs.Config{Seed: 1})
	opts := &engine.Options{Storage: fs, SegmentSize: segSize, IndexSlots: 16, Durability: engine.NoSync}
	s, err := engine.Open("roll", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(bg, "a", engine.NoStream, engine.Event{Type: "t", Data: []byte("in the first segment")}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{7}, segSize/2)
	for i := range 2 { // the second one rolls
		if _, err := s.Append(bg, "b", int64(i)-1, engine.Event{Type: "t", Data: big}); err != nil {
			t.Fatal(err)
		}
	}
	names, err := fs.List()
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if _, ok := segment.ParseFileName(n); ok {
			segs = append(segs, n)
		}
	}
	if len(segs) != 2 {
		t.Fatalf("segments %v, want two", segs)
	}
	// The flusher writes the second segment back; the first stays dirty.
	f, err := fs.Open(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(0, f.Size()); err != nil {
		t.Fatal(err)
	}
	after := fs.Crash(rand.New(rand.NewPCG(1, 1)), simfs.DropAll)
	_ = s.Close()

	s2, err := engine.Open("roll", &engine.Options{Storage: after, SegmentSize: segSize, IndexSlots: 16})
	if err != nil {
		t.Fatalf("open after a power cut with write-back out of order across a roll: %v", err)
	}
	defer s2.Close()
	// What the roll sealed ("a", b@0) is durable; b@1 was written back.
	var got []string
	for e, err := range s2.ReadAll(0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s@%d", e.Stream, e.Version))
	}
	if want := []string{"a@0", "b@0", "b@1"}; !slices.Equal(got, want) {
		t.Fatalf("recovered %v, want %v", got, want)
	}
}

// TestCloseAfterSilentSyncFailure: in SyncInterval mode the store msyncs
// on its own timer, and when that msync fails nobody is waiting for it:
// the store fails silently until its next call. If that call is Close and
// Close returned nil, the caller would take its appends as durable (Close
// syncs everything appended) while the failed msync may have lost them,
// and a reopen in the same process would even build on the lost pages,
// which the page cache marks clean (fsyncgate). Close must report the
// failure.
//
// Found by TestRandomCrashStates, seed 1102 (SyncInterval 200µs, the 6th
// Sync failed): Close returned nil over a failed store, the next phase
// reopened and appended, and after the power cut the log had a hole
// below everything the two Closes had promised.
func TestCloseAfterSilentSyncFailure(t *testing.T) {
	fs := simfs.New(simfs.Config{Seed: 1})
	opts := &engine.Options{Storage: fs, SegmentSize: 64 << 10, IndexSlots: 16,
		Durability: engine.SyncInterval, SyncInterval: time.Millisecond}
	s, err := engine.Open("silent", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The first append marks the index dirty with a Sync of its own: the
	// failure is armed after it, for the timer's msync of the second.
	for i := range 2 {
		if _, err := s.Append(bg, "a", int64(i)-1, engine.Event{Type: "t", Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fs.FailNth(simfs.OpSync, 1)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); fs.Stats().Injected == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the timer's msync never ran")
		}
	}
	if err := s.Close(); !errors.Is(err, engine.ErrFailed) || !errors.Is(err, simfs.ErrInjected) {
		t.Fatalf("Close after the timer's msync failed: %v, want ErrFailed wrapping the injected failure", err)
	}
}

// TestRecoveryDoesNotRetryFailedSync: when an msync of recovery fails
// (zeroing the torn tail, syncing the kept log, flushing the index), Open
// fails with it. It used to fall back to rebuilding the index, whose own
// msyncs then "succeeded" over pages the failed one may have lost and
// the kernel marked clean. Found by the random states with recovery
// faults; seed range from there.
func TestRecoveryDoesNotRetryFailedSync(t *testing.T) {
	struck := 0
	for seed := uint64(1); seed < 40; seed++ {
		fs := simfs.New(simfs.Config{Seed: seed})
		opts := func(f *simfs.FS) *engine.Options {
			return &engine.Options{Storage: f, SegmentSize: 64 << 10, IndexSlots: 16, Durability: engine.NoSync}
		}
		s, err := engine.Open("r", opts(fs))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			if _, err := s.Append(bg, "a", int64(i)-1, engine.Event{Type: "t", Data: make([]byte, 3000)}); err != nil {
				t.Fatal(err)
			}
			if i == 2 {
				if err := s.Sync(); err != nil {
					t.Fatal(err)
				}
			}
		}
		after := fs.Crash(rand.New(rand.NewPCG(seed, 1)), simfs.Random)
		_ = s.Close()
		after.FailNth(simfs.OpSync, 1)
		s2, err := engine.Open("r", opts(after))
		if after.Stats().Injected == 0 {
			if err == nil {
				_ = s2.Close()
			}
			continue
		}
		struck++
		if err == nil {
			t.Fatalf("seed %d: recovery's msync failed (%+v), Open succeeded anyway: %+v", seed, after.Origin(), s2.Recovered())
		}
		if !errors.Is(err, simfs.ErrInjected) {
			t.Fatalf("seed %d: Open failed with %v, not the injected error", seed, err)
		}
	}
	if struck == 0 {
		t.Fatal("no recovery msync failed in any state: the test tests nothing")
	}
}

// TestDeviceReadsEndPastTheSyncedLog: past a synced log end the device
// must hold a zero record header, as the format promises ("the end always
// reads as such"), also where an earlier life of the file left bytes past
// a clean end. The writer zeroes the header past every append, but when
// the log ends at a page boundary that header lies in the next page: the
// sync must cover it. Found by the crash suites' durable-end check (seed
// 1796318974257364893, the header across a page boundary); here the end
// is exactly at one.
func TestDeviceReadsEndPastTheSyncedLog(t *testing.T) {
	const segName = "0000000000000000.seg"
	fs := simfs.New(simfs.Config{Seed: 1})
	opts := &engine.Options{Storage: fs, SegmentSize: 64 << 10, IndexSlots: 16}
	s, err := engine.Open("life", opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Bytes of an earlier life past a clean end at position 0: not a
	// record, so recovery leaves them where they are.
	f, err := fs.Open(segName)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xfb, 0x42, 0x3c, 0xea}, 1024)
	if err := f.WriteAt(garbage, 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(4096, 4096); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	s, err = engine.Open("life", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// 16 records of 248 bytes end at log position 3968, file offset 4096.
	data := bytes.Repeat([]byte{'x'}, 248-segment.RecordHeaderSize-2)
	for range 16 {
		if _, err := s.Append(bg, "b", engine.Any, engine.Event{Type: "t", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if end := s.Stats().CommittedPosition; end != 3968 {
		t.Fatalf("log ends at %d, want 3968", end)
	}
	img, ok := fs.Durable(segName)
	if !ok {
		t.Fatal("segment not durable")
	}
	if !segment.IsEnd(img[4096:]) {
		t.Fatalf("the device holds % x past the synced log end, not a zero record header", img[4096:4096+16])
	}
}
