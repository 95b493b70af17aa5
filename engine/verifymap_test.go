package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/recovery"
	"github.com/spooldb/spool/segment"
)

// TestVerifyDamagedPositionMap: a compacted segment whose position map is
// damaged is one problem for Verify, located where Open locates it (the
// segment and the map's offset), not "cannot map the segment again" at
// offset 0 with the location buried in the text; and the chains of later
// segments that lead into its range are not reported again, one problem
// per record, as pointing into no readable segment.
func TestVerifyDamagedPositionMap(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentSize: 64 << 10}
	s, _ := deadStore(t, dir, o)
	if rep, err := s.Compact(bg, nil); err != nil || rep.Rewritten == 0 {
		t.Fatalf("Compact: %+v, %v", rep, err)
	}
	closeT(t, s)

	var name string
	var h segment.Header
	paths, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if hh, err := segment.ReadHeader(b, int64(len(b))); err == nil && hh.Compacted() && hh.MapCount > 0 {
			name, h = filepath.Base(p), hh
			b[h.MapOffset+3] ^= 0x40 // a bit of the first entry's position
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if name == "" {
		t.Fatal("no compacted segment with records")
	}

	_, err := Open(dir, o)
	var oce *CorruptionError
	if !errors.As(err, &oce) || oce.Segment != name || oce.Offset != int64(h.MapOffset) {
		t.Fatalf("Open: %v, want a corruption error in %s at offset %d", err, name, h.MapOffset)
	}
	rep, err := recovery.Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ce *CorruptionError
	if len(rep.Problems) == 0 || !errors.As(rep.Problems[0], &ce) || ce.Segment != name || ce.Offset != int64(h.MapOffset) {
		t.Fatalf("Verify problems %v, want the first in %s at offset %d, as Open reports it", rep.Problems, name, h.MapOffset)
	}
	if n := len(rep.Problems) + rep.MoreProblems; n != 1 {
		t.Fatalf("Verify found %d problems, want the damaged map only (chains into it are explained by it): %v", n, rep.Problems[:min(5, len(rep.Problems))])
	}
}
