package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spooldb/spool/mmapfile/simfs"
)

// Once the index is half full, a goroutine of the store makes the next table's
// file, and the growth at 3/4 copies into it instead of making its own
// while appends wait.
func TestIndexGrowthPreparedInBackground(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir, &Options{Durability: d, IndexSlots: 64})
			stream := func(i int) string { return fmt.Sprintf("s-%d", i) }
			for i := range 32 { // half of 64 slots: the preparer is asked
				appendT(t, s, stream(i), NoStream, ev("x"))
			}
			deadline := time.Now().Add(10 * time.Second)
			for s.index.GrowthAhead() {
				if time.Now().After(deadline) {
					t.Fatal("the index's next file was not prepared within 10 s")
				}
				time.Sleep(time.Millisecond)
			}
			if _, err := os.Stat(filepath.Join(dir, "index.grow")); err != nil {
				t.Fatalf("no prepared file: %v", err)
			}
			for i := 32; i < 49; i++ { // the 49th stream does not fit 64 slots
				appendT(t, s, stream(i), NoStream, ev("x"))
			}
			st := s.Stats()
			if st.IndexSlots != 128 || st.IndexGrowths != 1 || st.IndexGrowthsPrepared != 1 || st.SpareFailures != 0 {
				t.Fatalf("Stats: slots %d, growths %d, prepared %d, spare failures %d (%v); want 128, 1, 1, 0",
					st.IndexSlots, st.IndexGrowths, st.IndexGrowthsPrepared, st.SpareFailures, st.SpareError)
			}
			closeT(t, s)
			if _, err := os.Stat(filepath.Join(dir, "index.grow")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("index.grow after Close: %v", err)
			}
			s = openT(t, dir, nil)
			defer closeT(t, s)
			if !s.Stats().Recovery.Clean {
				t.Fatal("not a clean open")
			}
			for i := range 49 {
				if v, err := s.StreamVersion(stream(i)); err != nil || v != 0 {
					t.Fatalf("StreamVersion(%s) = %d, %v", stream(i), v, err)
				}
			}
		})
	}
}

// A preparation that fails is counted like a failed spare, and the growth
// then makes its file itself.
func TestIndexGrowthPreparationFails(t *testing.T) {
	sim := simfs.New(simfs.Config{Seed: 1})
	s, err := Open("d", &Options{Storage: sim, SegmentSize: 64 << 10, IndexSlots: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 31 {
		appendT(t, s, fmt.Sprintf("s-%d", i), NoStream, ev("x"))
	}
	sim.FailNth(simfs.OpCreate, 1) // the next Create, the prepared file's, finds the disk full
	appendT(t, s, "s-31", NoStream, ev("x"))
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().SpareFailures == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failed preparation was not counted within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	for i := 32; i < 49; i++ {
		appendT(t, s, fmt.Sprintf("s-%d", i), NoStream, ev("x"))
	}
	st := s.Stats()
	if st.IndexSlots != 128 || st.IndexGrowths != 1 || st.SpareFailures != 1 || !errors.Is(st.SpareError, syscall.ENOSPC) {
		t.Fatalf("Stats: slots %d, growths %d, spare failures %d (%v); want 128, 1, 1, ENOSPC",
			st.IndexSlots, st.IndexGrowths, st.SpareFailures, st.SpareError)
	}
	if n := sim.Stats().Injected; n != 1 {
		t.Fatalf("%d injected failures, want the prepared file's Create alone", n)
	}
}
