package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/recovery"
)

// setIndexCheckpoint rewrites the checkpoint and the clean flag of the
// index in dir and reseals its header: an index file that lies with a
// valid checksum, as a stale copy or one restored from a backup does.
func setIndexCheckpoint(t *testing.T, dir string, cp uint64, clean bool) {
	t.Helper()
	patchFile(t, filepath.Join(dir, indexName), func(b []byte) {
		binary.LittleEndian.PutUint64(b[32:], cp) // hashindex's hCheckpoint
		var c uint32
		if clean {
			c = 1
		}
		binary.LittleEndian.PutUint32(b[40:], c)                    // hClean
		binary.LittleEndian.PutUint64(b[56:], xxhash.Sum64(b[:56])) // hChecksum
	})
}

// crashedStore appends 20 acknowledged events to three streams and stops
// without a Close.
func crashedStore(t *testing.T, dir string, opts *Options) []AppendResult {
	t.Helper()
	s := openT(t, dir, opts)
	var res []AppendResult
	for i := range 20 {
		res = append(res, appendT(t, s, fmt.Sprintf("s%d", i%3), Any, ev(fmt.Sprint("event-", i))))
	}
	s.crashForTest()
	return res
}

// openHoldsAll opens dir and checks that it holds the 20 events of
// crashedStore.
func openHoldsAll(t *testing.T, dir string, opts *Options) {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if got, err := collectErr(s.ReadAll(0)); err != nil || len(got) != 20 {
		t.Fatalf("after Open (%+v): %d of 20 acknowledged events, err %v", s.Recovered(), len(got), err)
	}
}

// TestCheckpointInsideARecord: a dirty index whose checkpoint lies inside
// a record. Replay used to scan from there, meet the record's middle, take
// it for a torn tail and zero the rest of an acknowledged record.
func TestCheckpointInsideARecord(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20}
	res := crashedStore(t, dir, opts)
	setIndexCheckpoint(t, dir, res[len(res)-1].Position+16, false)
	openHoldsAll(t, dir, opts) // rebuilt from the whole log
}

// TestCheckpointAheadOfTheLog: a dirty index whose checkpoint lies past the
// log's data, as in a copy of a running store's directory that took the
// index after the segments. Replay used to take the zeros at the
// checkpoint for the log end, leaving a hole the log's readers then hit.
// The checkpoint says the log was durable past its data: Open refuses, as
// for any acknowledged data missing, and names the place.
func TestCheckpointAheadOfTheLog(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20}
	res := crashedStore(t, dir, opts)
	cp := res[len(res)-1].Position + 4096
	setIndexCheckpoint(t, dir, cp, false)
	openRefusesCheckpoint(t, dir, opts, cp)
}

// openRefusesCheckpoint checks that Open of dir fails with a corruption
// error naming cp, a checkpoint past the log's data.
func openRefusesCheckpoint(t *testing.T, dir string, opts *Options, cp uint64) {
	t.Helper()
	_, err := Open(dir, opts)
	var ce *CorruptionError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprint(cp)) {
		t.Fatalf("Open: %v, want a corruption error naming the checkpoint %d", err, cp)
	}
}

// TestCleanCheckpointAheadOfTheLog: a cleanly closed index whose checkpoint
// lies past the log's data (older segments restored beside a newer index,
// say). Open used to trust it without reading it — zeros at the checkpoint
// looked like the log end — and serve a log with a hole. The header now
// gives the length of the record ending at the checkpoint, which Open
// checks with one read.
func TestCleanCheckpointAheadOfTheLog(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20}
	res := crashedStore(t, dir, opts)
	s := openT(t, dir, opts) // recovers, then closes cleanly
	closeT(t, s)
	cp := res[len(res)-1].Position + 4096
	setIndexCheckpoint(t, dir, cp, true)
	openRefusesCheckpoint(t, dir, opts, cp)
}

// TestCleanOpenChecksTheLastRecord: a clean Close records the length of
// the log's last record in the index header, whatever wrote it last (an
// append, a system record, or recovery at Open with nothing appended
// since), and the next Open finds it and opens clean without a scan.
func TestCleanOpenChecksTheLastRecord(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10}
	crashedStore(t, dir, opts)
	steps := []struct {
		name string
		do   func(s *Store)
	}{
		{"after recovery, nothing appended", func(*Store) {}},
		{"after an append", func(s *Store) { appendT(t, s, "a", Any, ev("x"), ev("y")) }},
		{"after a system record", func(s *Store) {
			if err := s.SetStreamMetadata(bg, "a", StreamMetadata{MaxCount: 5}); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a clean open, nothing appended", func(*Store) {}},
	}
	for i, step := range steps {
		s := openT(t, dir, opts)
		if rec := s.Recovered(); (i > 0) != rec.Clean {
			t.Fatalf("%s: opened as %+v", steps[max(i-1, 0)].name, rec)
		}
		step.do(s)
		closeT(t, s)
	}
	s := openT(t, dir, opts)
	defer closeT(t, s)
	if rec := s.Recovered(); !rec.Clean {
		t.Fatalf("%s: opened as %+v", steps[len(steps)-1].name, rec)
	}
	if got := len(collect(t, s.ReadAll(0))); got != 22 {
		t.Fatalf("%d events, want 22", got)
	}
}

// TestCleanOpenAtACompactedEnd: spool recover cut the log where a
// compacted segment's range ends, and the last record of that range was
// dropped by compaction, so the log's last record ends before the log
// does. Every Open used to find the clean index unproven, replay it, and
// fall back to a full rebuild; the compacted segment's end now proves the
// checkpoint.
func TestCleanOpenAtACompactedEnd(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	data := strings.Repeat("x", 500)
	remaining := func() uint64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.active.limit() - s.written
	}
	for remaining() > 4<<10 {
		appendT(t, s, "live", Any, ev(data))
	}
	for len(*s.segs.Load()) == 1 { // the first segment ends with dead's events
		appendT(t, s, "dead", Any, ev(data))
	}
	appendT(t, s, "dead", Any, ev(data)) // its newest, in the second segment
	appendT(t, s, "live", Any, ev(data))
	if err := s.SetStreamMetadata(bg, "dead", StreamMetadata{MaxCount: 1}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.001, BytesPerSecond: -1}); err != nil || rep.Rewritten != 1 {
		t.Fatalf("Compact: %+v, %v", rep, err)
	}
	closeT(t, s)
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) != 2 {
		t.Fatalf("segments %v (%v), want 2", segs, err)
	}
	// Cut the second segment whole (as for a damaged header): the log
	// now ends where the compacted first segment's range does.
	if _, err := recovery.Truncate(dir, filepath.Base(segs[1]), 0); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, opts) // rebuilds the index
	if rec := s.Recovered(); !rec.RebuiltIndex {
		t.Fatalf("after the cut: %+v", rec)
	}
	closeT(t, s)
	s = openT(t, dir, opts)
	defer closeT(t, s)
	if rec := s.Recovered(); !rec.Clean {
		t.Fatalf("reopened after a clean close as %+v", rec)
	}
}

// TestCleanIndexWithoutRecordLen: a clean index written before its header
// recorded the length of the record ending at the checkpoint (the field
// was reserved, zero) is not trusted unread: Open replays it, which costs
// a scan from the checkpoint (nothing, here), and the next clean Close
// records the field.
func TestCleanIndexWithoutRecordLen(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	for i := range 50 {
		appendT(t, s, fmt.Sprint("s", i%5), Any, ev(fmt.Sprint(i)))
	}
	closeT(t, s)
	patchFile(t, filepath.Join(dir, indexName), func(b []byte) {
		binary.LittleEndian.PutUint32(b[44:], 0)                    // hashindex's hLastLen
		binary.LittleEndian.PutUint64(b[56:], xxhash.Sum64(b[:56])) // hChecksum
	})
	for i, want := range []string{"replayed", "clean"} {
		s = openT(t, dir, opts)
		rec := s.Recovered()
		if got := map[bool]string{true: "clean", false: "replayed"}[rec.Clean]; got != want || rec.RebuiltIndex || (!rec.Clean && !rec.ReplayedIndex) {
			t.Fatalf("open %d: %+v, want %s", i, rec, want)
		}
		if n := len(collect(t, s.ReadAll(0))); n != 50 {
			t.Fatalf("open %d: %d events, want 50", i, n)
		}
		closeT(t, s)
	}
}
