package engine

import (
	"fmt"
	"strings"
	"testing"
)

// TestMetadataChangeAfterCompactionKeepsWhatItRemoved: SetStreamMetadata
// reads the clock before it waits for the writer's lock; a compaction that
// runs meanwhile, later by the clock, removes events MaxAge hid at its own
// time. Dropping MaxAge must keep hidden what the compaction removed (and
// everything before it): otherwise the older events it left in a segment
// it did not rewrite show again in log reads and backward reads, while
// forward reads, stopped by the removed record, skip them.
//
// A clock that went back after the compaction does the same, while the
// store stays open or across a reopen (a board without a real-time clock
// boots with an old time).
func TestMetadataChangeAfterCompactionKeepsWhatItRemoved(t *testing.T) {
	for _, how := range []string{"race", "clock back", "clock back across a reopen"} {
		t.Run(how, func(t *testing.T) { metadataChangeAfterCompaction(t, how) })
	}
}

const agedT0 = int64(1_000_000)

// agedStore writes stream "aged", versions 0..3 stamped t0 in a segment
// that stays (much live filler), 4 alone in a segment compaction rewrites,
// and 5..12 stamped t0+20 in the active segment, with MaxAge 50.
func agedStore(t *testing.T, clock *int64, dir string, opts *Options) *Store {
	t.Helper()
	const t0 = agedT0
	*clock = t0
	s := openT(t, dir, opts)

	// Segment 1: aged 0..3 among much live filler (not rewritten).
	appendT(t, s, "aged", NoStream, ev("v0"), ev("v1"), ev("v2"), ev("v3"))
	for range 14 {
		appendT(t, s, "filler", Any, ev(strings.Repeat("f", 4000)))
	}
	// Segment 2: aged 4, large, alone (rewritten: it is all dead).
	appendT(t, s, "aged", 3, ev(strings.Repeat("x", 65_000)))
	// Active segment: aged 5..12, stamped later. (With these versions
	// MaxAge's binary search never seeks through version 4.)
	*clock = t0 + 20
	for v := int64(5); v <= 12; v++ {
		appendT(t, s, "aged", v-1, ev(fmt.Sprint("v", v)))
	}
	if err := s.SetStreamMetadata(bg, "aged", StreamMetadata{MaxAge: 50}); err != nil {
		t.Fatal(err)
	}
	if n := len(*s.segs.Load()); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}
	return s
}

// agedVersions returns the versions of "aged" that a forward read from
// 0, a backward read from 1 and ReadAll return.
func agedVersions(t *testing.T, s *Store) (fwd, back, log []int64) {
	t.Helper()
	for _, e := range collect(t, s.ReadStream("aged", 0, Forward)) {
		fwd = append(fwd, e.Version)
	}
	for _, e := range collect(t, s.ReadStream("aged", 1, Backward)) {
		back = append(back, e.Version)
	}
	for _, e := range collect(t, s.ReadAll(0)) {
		if e.Stream == "aged" {
			log = append(log, e.Version)
		}
	}
	return fwd, back, log
}

func metadataChangeAfterCompaction(t *testing.T, how string) {
	const t0 = agedT0
	var clock int64
	useClock(t, &clock)
	dir, opts := t.TempDir(), &Options{SegmentSize: 64 << 10}
	s := agedStore(t, &clock, dir, opts)
	defer func() { _ = s.Close() }()

	// The metadata change reads the clock at t0+30 (nothing expired),
	// then a compaction runs at t0+60 (versions 0..4 expired: it removes
	// 4) before the change takes the writer's lock.
	compact := func() {
		clock = t0 + 60
		rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.9, BytesPerSecond: -1})
		if err != nil || rep.Dropped != 1 {
			t.Fatalf("Compact: %+v, %v", rep, err)
		}
	}
	restore := stampClock
	if how == "race" {
		armed := true
		stampClock = func() int64 {
			if !armed {
				return clock
			}
			armed = false
			compact()
			return t0 + 30
		}
	} else {
		compact()
		if how == "clock back across a reopen" {
			closeT(t, s)
			s = openT(t, dir, opts)
		}
		clock = t0 + 30 // the clock is set back
	}
	err := s.SetStreamMetadata(bg, "aged", StreamMetadata{})
	stampClock = restore
	if err != nil {
		t.Fatal(err)
	}
	md, _ := s.StreamMetadata("aged")

	fwd, back, log := agedVersions(t, s)
	t.Logf("metadata %v; forward %v; backward from 1 %v; log %v", md, fwd, back, log)
	if md.TruncateBefore < 5 {
		t.Errorf("TruncateBefore %d after dropping MaxAge: compaction removed version 4, which MaxAge hid (and 0..3)", md.TruncateBefore)
	}
	if len(back) > 0 || len(log) != len(fwd) || log[0] != fwd[0] {
		t.Errorf("reads disagree: forward %v, backward from 1 %v, log %v", fwd, back, log)
	}
}

// TestReadsAfterCompactionAgreeWhenTheClockGoesBack: compaction removed
// version 4, which MaxAge hid at its time, and left 0..3 in a segment it
// did not rewrite. A reader whose clock went back since measured MaxAge
// at that earlier time: the forward read stopped at the removed record
// and returned 5..12, the backward read and ReadAll showed 0..3 again.
// Readers measure at the store's time, which no compaction lets go back.
func TestReadsAfterCompactionAgreeWhenTheClockGoesBack(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopen=%v", reopen), func(t *testing.T) {
			var clock int64
			useClock(t, &clock)
			dir, opts := t.TempDir(), &Options{SegmentSize: 64 << 10}
			s := agedStore(t, &clock, dir, opts)
			defer func() { _ = s.Close() }()
			clock = agedT0 + 60
			if rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.9, BytesPerSecond: -1}); err != nil || rep.Dropped != 1 {
				t.Fatalf("Compact: %+v, %v", rep, err)
			}
			if reopen {
				closeT(t, s)
				s = openT(t, dir, opts)
			}
			clock = agedT0 + 30 // the clock is set back
			fwd, back, log := agedVersions(t, s)
			if len(back) > 0 || len(log) != len(fwd) || len(fwd) == 0 || log[0] != fwd[0] {
				t.Errorf("reads disagree: forward %v, backward from 1 %v, log %v", fwd, back, log)
			}
		})
	}
}
