package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpareAskedAtHalf: the next segment is prepared once the active one is
// half full, also right after Open: an empty store asks for none, and a
// reopened one whose active segment is past half asks at once.
func TestSpareAskedAtHalf(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10, Durability: NoSync}
	s := openT(t, dir, opts)
	asked := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.spareAsked || len(s.spareCh) > 0
	}
	if asked() {
		t.Fatal("a spare was asked for by Open, with the active segment empty")
	}
	data := strings.Repeat("x", 1000)
	for s.written-s.active.base < (s.active.limit()-s.active.base)/2-2000 {
		appendT(t, s, "a", Any, ev(data))
	}
	if asked() {
		t.Fatal("a spare was asked for before the active segment was half full")
	}
	for range 3 {
		appendT(t, s, "a", Any, ev(data))
	}
	if !asked() {
		t.Fatal("no spare asked for past half")
	}
	// Without the spare the first store may have left ready, the next
	// Open must ask for one itself.
	closeT(t, s)
	spares, err := filepath.Glob(filepath.Join(dir, "spare-*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range spares {
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	s = openT(t, dir, opts)
	defer closeT(t, s)
	if !asked() {
		t.Fatal("reopened past half, no spare asked for")
	}
}
