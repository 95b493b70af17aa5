package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spooldb/spool/segment"
)

// lastSegmentPath returns the path of the newest segment file in dir.
func lastSegmentPath(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	return m[len(m)-1]
}

// patchFile applies fn to the bytes of path.
func patchFile(t *testing.T, path string, fn func(b []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fn(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20}
	s := openT(t, dir, opts)
	for i := range 50 {
		appendT(t, s, fmt.Sprintf("s%d", i%5), Any, ev(fmt.Sprint(i)), ev(fmt.Sprint(i)))
	}
	end := s.Stats().CommittedPosition
	s.crashForTest()

	// Garbage after the end: a torn write of a group never acknowledged.
	path := lastSegmentPath(t, dir)
	off := int64(end) + segment.HeaderSize
	patchFile(t, path, func(b []byte) {
		for i := range 700 {
			b[off+int64(i)] = byte(i*7 + 1)
		}
	})
	s = openT(t, dir, opts)
	rec := s.Recovered()
	if rec.Clean || rec.LogEnd != end || rec.TornBytes < 700 {
		t.Fatalf("recovery %+v, want end %d and >= 700 torn bytes", rec, end)
	}
	if got := len(collect(t, s.ReadAll(0))); got != 100 {
		t.Fatalf("%d events after recovery, want 100", got)
	}
	appendT(t, s, "s0", 19, ev("after"))
	closeT(t, s)

	s = openT(t, dir, opts)
	defer closeT(t, s)
	if !s.Recovered().Clean {
		t.Fatalf("reopen after Close: %+v", s.Recovered())
	}
	if v, _ := s.StreamVersion("s0"); v != 20 {
		t.Fatalf("s0 at version %d, want 20", v)
	}
}

func TestRecoveryDropsIncompleteBatch(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20}
	s := openT(t, dir, opts)
	appendT(t, s, "a", NoStream, ev("a0"))
	keepEnd := s.Stats().CommittedPosition
	res := appendT(t, s, "a", 0, ev("a1"), ev("a2"), ev("a3-last"))
	s.crashForTest()

	// Tear the batch's last record: its first two are intact, valid
	// records, but without the last one the batch never happened.
	path := lastSegmentPath(t, dir)
	patchFile(t, path, func(b []byte) {
		last := bytes.LastIndex(b, []byte("a3-last"))
		b[last] ^= 0xFF
	})
	s = openT(t, dir, opts)
	if rec := s.Recovered(); rec.LogEnd != keepEnd || rec.TornBytes == 0 {
		t.Fatalf("recovery %+v, want end %d (batch at %d dropped)", rec, keepEnd, res.Position)
	}
	if v, _ := s.StreamVersion("a"); v != 0 {
		t.Fatalf("version %d after dropping the batch, want 0", v)
	}
	// The dropped records are gone from the file, not just skipped: a
	// later append ending where one of them began must not revive it.
	s.crashForTest()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if tail := b[int64(keepEnd)+segment.HeaderSize:]; !bytes.Equal(tail, make([]byte, len(tail))) {
		t.Fatalf("bytes after the recovered end are not zero")
	}
	s = openT(t, dir, opts)
	defer closeT(t, s)
	appendT(t, s, "a", 0, ev("new1"))
	got := collect(t, s.ReadStream("a", 0, Forward))
	if len(got) != 2 || string(got[1].Data) != "new1" {
		t.Fatalf("stream after recovery: %v", got)
	}
}

func TestRecoveryRemovesSpareAndEmptyTrailingSegments(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	appendT(t, s, "a", Any, Event{Data: make([]byte, 10<<10)})
	appendT(t, s, "a", Any, Event{Data: bytes.Repeat([]byte("2"), 30<<10)})
	appendT(t, s, "a", Any, Event{Data: make([]byte, 40<<10)}) // rolls to a second segment
	if n := s.Stats().Segments; n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
	s.crashForTest()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	// As if power failed before the first segment's tail and the second
	// segment's record reached the disk: the second record is torn and the
	// new segment never got its data.
	patchFile(t, segs[0], func(b []byte) { b[bytes.Index(b, []byte("2222"))] = 'x' })
	patchFile(t, segs[1], func(b []byte) { clear(b[segment.HeaderSize:]) })
	s = openT(t, dir, opts)
	defer closeT(t, s)
	rec := s.Recovered()
	if rec.RemovedSegments != 1 || s.Stats().Segments != 1 || rec.TornBytes == 0 {
		t.Fatalf("recovery %+v, %d segments", rec, s.Stats().Segments)
	}
	if _, err := os.Stat(segs[1]); !os.IsNotExist(err) {
		t.Fatalf("empty trailing segment still there: %v", err)
	}
	if v, _ := s.StreamVersion("a"); v != 0 {
		t.Fatalf("version %d, want 0", v)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "spare-*.tmp")); len(tmp) > 1 {
		t.Fatalf("stale spare files left: %v", tmp)
	}
	appendT(t, s, "a", 0, Event{Data: make([]byte, 40<<10)})
	appendT(t, s, "a", 1, Event{Data: make([]byte, 40<<10)})
	if got := len(collect(t, s.ReadStream("a", End, Backward))); got != 3 {
		t.Fatalf("%d events, want 3", got)
	}
}

func TestRecoveryKeepsEmptyLastSegment(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	appendT(t, s, "a", Any, Event{Data: make([]byte, 40<<10)})
	appendT(t, s, "a", Any, Event{Data: make([]byte, 40<<10)}) // second segment
	s.crashForTest()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	patchFile(t, segs[1], func(b []byte) { b[segment.HeaderSize+200] ^= 1 })
	s = openT(t, dir, opts)
	defer closeT(t, s)
	// The second segment starts where the first one's data ends, so it
	// stays, empty, and appends continue in it.
	if rec := s.Recovered(); rec.RemovedSegments != 0 || rec.TornBytes == 0 || s.Stats().Segments != 2 {
		t.Fatalf("recovery %+v", rec)
	}
	appendT(t, s, "a", 0, ev("x"))
	if got := len(collect(t, s.ReadAll(0))); got != 2 {
		t.Fatalf("%d events, want 2", got)
	}
}

func TestCorruptionBelowLaterSegmentsFailsOpen(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 64 << 10}
	s := openT(t, dir, opts)
	for i := range 40 {
		appendT(t, s, "a", Any, Event{Data: make([]byte, 5000), Type: fmt.Sprint(i)})
	}
	s.crashForTest()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	patchFile(t, segs[0], func(b []byte) { b[segment.HeaderSize+5100+300] ^= 0x10 })
	_, err := Open(dir, opts)
	var ce *CorruptionError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Segment != filepath.Base(segs[0]) || ce.Offset <= segment.HeaderSize {
		t.Fatalf("Open over damaged acknowledged data: %v", err)
	}
	if !strings.Contains(err.Error(), "open "+dir+":") {
		t.Fatalf("Open's error does not name the directory: %v", err)
	}
	// Nothing was cut: the damaged file is still as it was.
	if b, _ := os.ReadFile(segs[1]); segment.IsEnd(b[segment.HeaderSize:]) {
		t.Fatal("later segment was emptied")
	}
}

func TestCleanReopenSkipsScan(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, nil)
	for i := range 100 {
		appendT(t, s, fmt.Sprintf("s%d", i%10), Any, ev("x"))
	}
	closeT(t, s)
	s = openT(t, dir, nil)
	defer closeT(t, s)
	if r := s.Recovered(); !r.Clean || r.RebuiltIndex || r.Records != 0 {
		t.Fatalf("clean reopen: %+v", r)
	}
	if st := s.Stats(); st.Streams != 10 {
		t.Fatalf("%d streams", st.Streams)
	}
}

// flipByte flips one byte of the record at log position pos (in its body,
// so that its checksum fails) in the single segment of dir.
func flipByte(t *testing.T, dir string, pos uint64) {
	t.Helper()
	patchFile(t, lastSegmentPath(t, dir), func(b []byte) {
		b[int64(pos)+segment.HeaderSize+segment.RecordHeaderSize] ^= 0x5A
	})
}

// TestRecoveryRefusesDamageBelowWatermark damages an acknowledged record
// that later acknowledged records were written after: recovery must not
// cut the log there, but fail with a CorruptionError and change nothing.
func TestRecoveryRefusesDamageBelowWatermark(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20}
	s := openT(t, dir, opts)
	first := appendT(t, s, "a", NoStream, ev("a0"))
	appendT(t, s, "a", 0, ev("a1"))
	appendT(t, s, "b", NoStream, ev("b0"))
	s.crashForTest()
	flipByte(t, dir, first.Position)
	before, err := os.ReadFile(lastSegmentPath(t, dir))
	if err != nil {
		t.Fatal(err)
	}

	_, err = Open(dir, opts)
	wantErrIs(t, err, ErrCorrupt)
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Segment == "" || ce.Offset != int64(first.Position)+segment.HeaderSize {
		t.Fatalf("error %v, want a CorruptionError at the damaged record", err)
	}
	after, err := os.ReadFile(lastSegmentPath(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the failed recovery changed the segment")
	}
}

// TestRecoveryUsesIndexCheckpoint: the only evidence that the damaged
// record was durable is the old index's checkpoint.
func TestRecoveryUsesIndexCheckpoint(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20, Durability: NoSync}
	s := openT(t, dir, opts)
	appendT(t, s, "a", NoStream, ev("a0"))
	last := appendT(t, s, "a", 0, ev("a1"))
	closeT(t, s) // checkpoint: the end after a1

	s = openT(t, dir, opts)
	extra := appendT(t, s, "b", NoStream, ev("b0")) // marks the index dirty
	s.crashForTest()
	patchFile(t, lastSegmentPath(t, dir), func(b []byte) { // b0 never reached the disk
		clear(b[int64(extra.Position)+segment.HeaderSize:])
	})
	flipByte(t, dir, last.Position)
	_, err := Open(dir, opts)
	wantErrIs(t, err, ErrCorrupt)
	// The failed Open must keep its evidence: a second Open refuses too,
	// rather than cutting the damage as a torn tail.
	_, err = Open(dir, opts)
	wantErrIs(t, err, ErrCorrupt)
}

// TestRecoveryCutsTornGroup: records of a group that was never synced may
// reach the disk out of order. Damage among them is a torn tail, even with
// intact records after it, because none of those claims the group was
// durable: the log is cut at the damage.
func TestRecoveryCutsTornGroup(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 1 << 20, Durability: NoSync}
	s := openT(t, dir, opts)
	appendT(t, s, "a", NoStream, ev("a0"))
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	var torn AppendResult
	for i := range 4 {
		r := appendT(t, s, "a", int64(i), ev(fmt.Sprint(i+1)))
		if i == 1 {
			torn = r
		}
	}
	s.crashForTest()
	flipByte(t, dir, torn.Position)
	s = openT(t, dir, opts)
	defer closeT(t, s)
	if r := s.Recovered(); r.LogEnd != torn.Position || r.TornBytes == 0 {
		t.Fatalf("recovery %+v, want the log cut at %d", r, torn.Position)
	}
	if v, _ := s.StreamVersion("a"); v != 1 {
		t.Fatalf("a at version %d, want 1", v)
	}
}

// TestRecoverySyncsWhatItKeeps: after a killed NoSync store, the records
// recovery keeps are in the page cache only; new appends build on them,
// so recovery must make them durable first.
func TestRecoverySyncsWhatItKeeps(t *testing.T) {
	g, dir := newGatedFS(t, false)
	opts := &Options{SegmentSize: 1 << 20, Durability: NoSync}
	s := openT(t, dir, opts)
	for i := range 200 { // several pages
		appendT(t, s, "a", int64(i)-1, ev(fmt.Sprint(i)))
	}
	end := s.Stats().CommittedPosition
	s.crashForTest()

	opts.Storage = g
	s = openT(t, dir, opts)
	defer closeT(t, s)
	seg := s.active
	if off := g.notDurable(seg.file, segment.HeaderSize, seg.offset(end)); off >= 0 {
		t.Fatalf("recovery kept the log through %d without syncing it (byte %d of %s)", end, off, seg.name)
	}
}
