package engine

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// deadAndLiveStore returns a store (64 KiB segments) whose sealed
// segments are mostly the records of deleted streams, interleaved with 40
// events of stream "live" that each carry their own version in Data.
func deadAndLiveStore(t *testing.T, dir string, o *Options) *Store {
	t.Helper()
	s := openT(t, dir, o)
	pad := strings.Repeat("x", 500)
	for i := range 8 {
		dead := fmt.Sprintf("dead-%d", i)
		for range 40 {
			appendT(t, s, dead, Any, ev(pad))
		}
		for v := range 5 {
			appendT(t, s, "live", Any, ev(fmt.Sprintf("live/%d/%s", i*5+v, pad)))
		}
	}
	for i := range 8 {
		if err := s.DeleteStream(bg, fmt.Sprintf("dead-%d", i), Any); err != nil {
			t.Fatal(err)
		}
	}
	for range 300 { // seal the segments above
		appendT(t, s, "tail", Any, ev(pad))
	}
	return s
}

// checkLive reads stream "live" whole and checks every event's data.
func checkLive(t *testing.T, s *Store) {
	t.Helper()
	n := 0
	for e, err := range s.ReadStream("live", 0, Forward) {
		if err != nil {
			t.Fatalf("reading live after %d events: %v", n, err)
		}
		if want := fmt.Sprintf("live/%d/", e.Version); !strings.HasPrefix(string(e.Data), want) {
			t.Fatalf("live version %d carries %.20q", e.Version, e.Data)
		}
		n++
	}
	if n != 40 {
		t.Fatalf("live has %d events, want 40", n)
	}
	for _, err := range s.ReadAll(0) {
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
	}
}

// compactPanicking runs Compact with a Progress that panics at the first
// call for which at returns true, and returns what Compact raised.
func compactPanicking(s *Store, at func(CompactProgress) bool) (raised any) {
	defer func() { raised = recover() }()
	_, _ = s.Compact(bg, &CompactOptions{BytesPerSecond: -1, Progress: func(p CompactProgress) {
		if at(p) {
			panic("progress callback bug")
		}
	}})
	return nil
}

// A panic in Progress, in any phase, comes out of Compact once the files
// are settled: the store reads every live event, compacts again, closes
// without error, and holds no mapping nor scratch file afterwards.
// Before, a panic at CompactDone (after the rename, before the segment
// list learned of it) left the store reading files that no longer held
// what its list said, and one in the survey or the copy leaked a segment
// mapping or the compacted file.
func TestProgressPanicLeavesTheStoreConsistent(t *testing.T) {
	phases := []struct {
		name string
		at   func(CompactProgress) bool
	}{
		{"surveying", func(p CompactProgress) bool { return p.Phase == CompactSurveying && p.BytesRead > 0 }},
		{"copying", func(p CompactProgress) bool { return p.Phase == CompactCopying }},
		{"swapping", func(p CompactProgress) bool { return p.Phase == CompactSwapping }},
		{"done", func(p CompactProgress) bool { return p.Phase == CompactDone }},
	}
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			dir := t.TempDir()
			o := &Options{SegmentSize: 64 << 10, MaxMappedBytes: 128 << 10}
			s := deadAndLiveStore(t, dir, o)
			if raised := compactPanicking(s, ph.at); raised != "progress callback bug" {
				t.Fatalf("Compact raised %v, want the callback's panic", raised)
			}
			noScratchFiles(t, dir)
			checkLive(t, s)
			if _, err := s.Compact(bg, &CompactOptions{BytesPerSecond: -1}); err != nil {
				t.Fatalf("Compact after the panic: %v", err)
			}
			checkLive(t, s)
			closeT(t, s)
			if m := s.maps.mapped.Load(); m != 0 {
				t.Errorf("%d bytes of segment mappings left after Close", m)
			}
			noScratchFiles(t, dir)
			s = openT(t, dir, o)
			defer closeT(t, s)
			checkLive(t, s)
		})
	}
}

// noScratchFiles fails the test if a compacted file under construction
// was left in dir.
func noScratchFiles(t *testing.T, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".compact") {
			t.Errorf("scratch file %s left behind", e.Name())
		}
	}
}
