package engine

import (
	"strings"
	"testing"
	"time"
)

// TestOneFutureClockReadingDoesNotHideEverything: the clock reads far in
// the future for one append (to a stream without retention), then is
// right again. Readers of a stream with MaxAge must not measure at that
// future time (every event of every MaxAge stream vanished), and after a
// compaction and a reopen the store's stamps must not stay there (every
// later event was stamped at the future time, so MaxAge never expired
// anything again until the clock caught up).
func TestOneFutureClockReadingDoesNotHideEverything(t *testing.T) {
	const t0 = int64(1_750_000_000_000_000_000)
	const glitch = int64(10 * 365 * 24 * time.Hour)
	var clock int64 = t0
	useClock(t, &clock)
	dir, opts := t.TempDir(), &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	defer func() { _ = s.Close() }()

	appendT(t, s, "a", NoStream, ev("a0"), ev("a1"), ev("a2"))
	if err := s.SetStreamMetadata(bg, "a", StreamMetadata{MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Dead bytes, so that Compact rewrites a segment.
	big := ev(strings.Repeat("d", 30_000))
	appendT(t, s, "dead", Any, big, big)
	appendT(t, s, "dead", Any, big)
	appendT(t, s, "filler", Any, big, big)
	if err := s.DeleteStream(bg, "dead", Any); err != nil {
		t.Fatal(err)
	}

	clock = t0 + glitch // one bad reading
	appendT(t, s, "b", Any, ev("b0"))
	clock = t0 + int64(time.Minute)

	if got := collect(t, s.ReadStream("a", 0, Forward)); len(got) != 3 {
		t.Errorf("after one future clock reading, stream a shows %d of its 3 events (a minute old, MaxAge 1h)", len(got))
	}
	rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.1, BytesPerSecond: -1})
	if err != nil || rep.Rewritten == 0 {
		t.Fatalf("Compact: %+v, %v", rep, err)
	}
	closeT(t, s)
	s = openT(t, dir, opts)
	res := appendT(t, s, "c", NoStream, ev("c0"))
	got := collect(t, s.ReadAll(res.Position))
	if len(got) != 1 {
		t.Fatalf("read back c: %d events", len(got))
	}
	if d := got[0].Time.UnixNano() - clock; d > int64(time.Hour) {
		t.Errorf("after a compaction and a reopen, a new stream's event is stamped %v ahead of the clock", time.Duration(d))
	}
	if got := collect(t, s.ReadStream("a", 0, Forward)); len(got) != 3 {
		t.Errorf("after a reopen, stream a shows %d of its 3 events", len(got))
	}
}
