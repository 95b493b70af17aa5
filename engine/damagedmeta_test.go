package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/segment"
)

// damagedMetaStore writes streams "ok" and "m", gives "m" retention (a
// system record) and, when eventAfter, one more event after it; closes
// the store cleanly and flips a byte of the system record. It returns the
// system record's log position.
func damagedMetaStore(t *testing.T, dir string, eventAfter bool) uint64 {
	t.Helper()
	s := openT(t, dir, &Options{SegmentSize: 1 << 20})
	appendT(t, s, "ok", NoStream, ev("ok0"))
	m0 := appendT(t, s, "m", NoStream, ev("m0"))
	appendT(t, s, "ok", 0, ev("ok1"))
	var sys uint64
	for e, err := range s.ReadAll(m0.Position) {
		if err != nil {
			t.Fatal(err)
		}
		sys = e.Next // ok1's end: the system record comes next
	}
	if err := s.SetStreamMetadata(bg, "m", StreamMetadata{MaxCount: 10}); err != nil {
		t.Fatal(err)
	}
	if eventAfter {
		appendT(t, s, "m", 0, ev("m1"))
	}
	appendT(t, s, "ok", 1, ev("ok2"))
	closeT(t, s)
	flipByte(t, dir, sys)
	return sys
}

// wantDamageAt checks that err is a corruption error naming the segment
// and the offset of the record at log position pos.
func wantDamageAt(t *testing.T, what string, err error, pos uint64) {
	t.Helper()
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Segment == "" || ce.Offset != int64(pos)+segment.HeaderSize {
		t.Fatalf("%s: error %v, want a CorruptionError at the damaged system record (offset %d)", what, err, int64(pos)+segment.HeaderSize)
	}
}

// TestDamagedSystemRecordQuarantinesItsStream: a bit flip in a stream's
// newest system record must not keep the store from opening. Only that
// stream, whose retention is now unknown, fails, with the damage's file
// and offset; its events must neither be read as if it had no retention
// (they could be deleted ones) nor vanish silently.
func TestDamagedSystemRecordQuarantinesItsStream(t *testing.T) {
	for _, tc := range []struct {
		name       string
		eventAfter bool // false: the system record is the stream's newest record
	}{{"event after it", true}, {"newest record", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sys := damagedMetaStore(t, dir, tc.eventAfter)
			for reopen := range 2 {
				s, err := Open(dir, &Options{SegmentSize: 1 << 20})
				if err != nil {
					t.Fatalf("Open %d: %v", reopen, err)
				}
				if st := s.Stats(); st.DamagedStreams != 1 {
					t.Fatalf("Stats: %d damaged streams, want 1", st.DamagedStreams)
				} else {
					wantDamageAt(t, "Stats", st.DamagedStreamError, sys)
				}
				// The other stream works.
				if got := collect(t, s.ReadStream("ok", 0, Forward)); len(got) != 3+reopen {
					t.Fatalf("stream ok: %d events", len(got))
				}
				appendT(t, s, "ok", int64(2+reopen), ev("more"))
				// The quarantined one fails, wherever it is reached.
				_, err = collectErr(s.ReadStream("m", 0, Forward))
				wantDamageAt(t, "ReadStream", err, sys)
				_, err = s.StreamVersion("m")
				wantDamageAt(t, "StreamVersion", err, sys)
				_, err = s.Append(bg, "m", Any, ev("m2"))
				wantDamageAt(t, "Append", err, sys)
				if tc.eventAfter {
					// Without the event after it, the index's match
					// reads the damaged record itself; StreamMetadata
					// does not use the index.
					_, err = s.StreamMetadata("m")
					wantDamageAt(t, "StreamMetadata", err, sys)
				}
				got, err := collectErr(s.ReadAll(0))
				wantDamageAt(t, "ReadAll", err, sys)
				if len(got) != 1 || got[0].Stream != "ok" {
					t.Fatalf("ReadAll before the error: %+v, want ok's first event only", got)
				}
				closeT(t, s)
			}
		})
	}
}

// flipByteIn flips a byte in the body of the record at log position pos,
// in the segment of dir whose base is base.
func flipByteIn(t *testing.T, dir string, base, pos uint64) {
	t.Helper()
	patchFile(t, filepath.Join(dir, segment.FileName(base)), func(b []byte) {
		b[int64(pos-base)+segment.HeaderSize+segment.RecordHeaderSize] ^= 0x5A
	})
}

// TestCompactionLeavesDamagedSegments: a damaged record must neither stop
// compaction of the other segments nor be compacted away. A damaged
// system record also leaves its stream's retention unknown: compaction
// must keep its events, and the damage that quarantines it.
func TestCompactionLeavesDamagedSegments(t *testing.T) {
	for _, damageSys := range []bool{true, false} {
		t.Run(fmt.Sprintf("system record=%v", damageSys), func(t *testing.T) {
			testCompactionLeavesDamagedSegment(t, damageSys)
		})
	}
}

func testCompactionLeavesDamagedSegment(t *testing.T, damageSys bool) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	big := Event{Type: "test", Data: make([]byte, 4000)}
	// Segment 0: d's events, then m's and its system record, hiding m0.
	for i := range 10 {
		appendT(t, s, "d", int64(i-1), big)
	}
	appendT(t, s, "m", NoStream, ev("m0"))
	m1 := appendT(t, s, "m", 0, ev("m1"))
	sys := s.committed.Load()
	if err := s.SetStreamMetadata(bg, "m", StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}
	// Segments 1 and 2: e's events, then roll once more.
	for i := range 30 {
		appendT(t, s, "e", int64(i-1), big)
	}
	if err := s.DeleteStream(bg, "d", 9); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream(bg, "e", 29); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		appendT(t, s, "f", int64(i-1), big)
	}
	closeT(t, s)
	damaged := m1.Position
	if damageSys {
		damaged = sys
	}
	flipByteIn(t, dir, 0, damaged)

	seg0 := filepath.Join(dir, segment.FileName(0))
	before, err := os.ReadFile(seg0)
	if err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, opts)
	rep, err := s.Compact(bg, &CompactOptions{BytesPerSecond: -1})
	wantDamageAt(t, "Compact", err, damaged)
	if rep.Rewritten < 2 || rep.Dropped == 0 {
		t.Fatalf("compaction: %+v: want the damaged segment left, the two after it rewritten", rep)
	}
	closeT(t, s)
	if after, err := os.ReadFile(seg0); err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the damaged segment changed (%v)", err)
	}

	s = openT(t, dir, opts)
	defer closeT(t, s)
	_, err = collectErr(s.ReadStream("m", 0, Forward))
	wantDamageAt(t, "ReadStream after Compact", err, damaged)
	if got := collect(t, s.ReadStream("f", 0, Forward)); len(got) != 20 {
		t.Fatalf("stream f: %d events", len(got))
	}
	if v, err := s.StreamVersion("e"); err != nil || v != NoStream {
		t.Fatalf("deleted stream e: version %d, %v", v, err)
	}
}
