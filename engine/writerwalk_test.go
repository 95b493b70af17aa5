package engine

import (
	"testing"
	"time"
)

// longSpreadStream writes stream "a" with n events, one per 64 KiB
// segment (filler events of another stream in between), gives it the
// metadata md, and reopens the store with the smallest mapping cap.
func longSpreadStream(t *testing.T, n int, md StreamMetadata) (*Store, *Options) {
	t.Helper()
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10, MaxMappedBytes: 128 << 10, Durability: NoSync}
	s := openT(t, dir, opts)
	fill := Event{Type: "fill", Data: make([]byte, 60<<10)}
	for i := range n {
		appendT(t, s, "a", int64(i-1), evID(byte(i+1), "a"))
		appendT(t, s, "fill", Any, fill)
	}
	if md != (StreamMetadata{}) {
		if err := s.SetStreamMetadata(bg, "a", md); err != nil {
			t.Fatal(err)
		}
	}
	closeT(t, s)
	return openT(t, dir, opts), opts
}

// wantPeakUnderCap checks that s never mapped more than the cap plus one
// segment: a new mapping is made before the least recently used one is
// unmapped for it (Open itself gets there).
func wantPeakUnderCap(t *testing.T, s *Store, opts *Options) {
	t.Helper()
	if peak := s.Stats().PeakMappedBytes; peak > opts.MaxMappedBytes+opts.SegmentSize {
		t.Fatalf("peak mapped %d bytes, cap %d + one segment", peak, opts.MaxMappedBytes)
	}
}

// TestWriterSeeksStayUnderMappingCap: an append's seeks along a long
// stream (a NoStream retry's search for version 0, a MaxAge search when
// the stream's metadata changes) held every segment they passed until the
// append ended, O(log² n) of them, past MaxMappedBytes.
func TestWriterSeeksStayUnderMappingCap(t *testing.T) {
	const n = 120
	t.Run("retry", func(t *testing.T) {
		s, opts := longSpreadStream(t, n, StreamMetadata{})
		defer closeT(t, s)
		res, err := s.Append(bg, "a", NoStream, evID(1, "a"))
		if err != nil || res.FirstVersion != 0 {
			t.Fatalf("retry of the first append: %+v, %v", res, err)
		}
		wantPeakUnderCap(t, s, opts)
	})
	t.Run("max age", func(t *testing.T) {
		s, opts := longSpreadStream(t, n, StreamMetadata{MaxAge: time.Hour})
		defer closeT(t, s)
		if err := s.SetStreamMetadata(bg, "a", StreamMetadata{MaxAge: 2 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		wantPeakUnderCap(t, s, opts)
	})
}
