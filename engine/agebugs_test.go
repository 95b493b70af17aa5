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

func metadataChangeAfterCompaction(t *testing.T, how string) {
	const t0 = int64(1_000_000)
	clock := t0
	useClock(t, &clock)
	dir, opts := t.TempDir(), &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	defer func() { _ = s.Close() }()

	// Segment 1: aged 0..3 among much live filler (not rewritten).
	appendT(t, s, "aged", NoStream, ev("v0"), ev("v1"), ev("v2"), ev("v3"))
	for range 14 {
		appendT(t, s, "filler", Any, ev(strings.Repeat("f", 4000)))
	}
	// Segment 2: aged 4, large, alone (rewritten: it is all dead).
	appendT(t, s, "aged", 3, ev(strings.Repeat("x", 65_000)))
	// Active segment: aged 5..12, stamped later. (With these versions
	// MaxAge's binary search never seeks through version 4.)
	clock = t0 + 20
	for v := int64(5); v <= 12; v++ {
		appendT(t, s, "aged", v-1, ev(fmt.Sprint("v", v)))
	}
	if err := s.SetStreamMetadata(bg, "aged", StreamMetadata{MaxAge: 50}); err != nil {
		t.Fatal(err)
	}
	if n := len(*s.segs.Load()); n != 3 {
		t.Fatalf("%d segments, want 3", n)
	}

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

	var fwd, back, log []int64
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
	t.Logf("metadata %v; forward %v; backward from 1 %v; log %v", md, fwd, back, log)
	if md.TruncateBefore < 5 {
		t.Errorf("TruncateBefore %d after dropping MaxAge: compaction removed version 4, which MaxAge hid (and 0..3)", md.TruncateBefore)
	}
	if len(back) > 0 || len(log) != len(fwd) || log[0] != fwd[0] {
		t.Errorf("reads disagree: forward %v, backward from 1 %v, log %v", fwd, back, log)
	}
}
