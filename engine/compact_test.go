package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/recovery"
	"github.com/spooldb/spool/segment"
)

// liveView is what readers see of a store: every stream's events and the
// whole log, for comparing before and after compaction.
type liveView struct {
	log     []RecordedEvent
	streams map[string][]RecordedEvent
	version map[string]int64
}

func viewOf(t *testing.T, s *Store, streams []string) liveView {
	t.Helper()
	v := liveView{log: collect(t, s.ReadAll(0)), streams: map[string][]RecordedEvent{}, version: map[string]int64{}}
	for _, st := range streams {
		events, err := collectErr(s.ReadStream(st, 0, Forward))
		if errors.Is(err, ErrStreamDeleted) {
			v.version[st] = -100
			continue
		}
		if err != nil {
			t.Fatalf("ReadStream(%s): %v", st, err)
		}
		v.streams[st] = events
		v.version[st] = versionT(t, s, st)
	}
	return v
}

func sameView(t *testing.T, what string, got, want liveView) {
	t.Helper()
	compare := func(where string, g, w []RecordedEvent) {
		if len(g) != len(w) {
			t.Fatalf("%s: %s: %d events, want %d", what, where, len(g), len(w))
		}
		for i := range g {
			if err := sameEvent(g[i], w[i]); err != nil || string(g[i].Data) != string(w[i].Data) {
				t.Fatalf("%s: %s: event %d: %v", what, where, i, err)
			}
		}
	}
	compare("ReadAll", got.log, want.log)
	for st, w := range want.streams {
		compare("stream "+st, got.streams[st], w)
	}
	for st, v := range want.version {
		if got.version[st] != v {
			t.Fatalf("%s: stream %s version %d, want %d", what, st, got.version[st], v)
		}
	}
}

// deadStore fills a store with small segments where 90% of the events are
// dead: of every ten streams, three are tombstoned, three deleted, three
// truncated to their last event by MaxCount, one kept whole.
func deadStore(t *testing.T, dir string, o *Options) (*Store, []string) {
	t.Helper()
	s := openT(t, dir, o)
	var streams []string
	for i := range 40 {
		streams = append(streams, fmt.Sprintf("s-%d", i))
	}
	data := strings.Repeat("x", 200)
	for round := range 30 {
		for _, st := range streams {
			appendT(t, s, st, int64(round)-1, ev(data))
		}
	}
	for i, st := range streams {
		var err error
		switch i % 10 {
		case 0, 1, 2:
			err = s.TombstoneStream(bg, st, Any)
		case 3, 4, 5:
			err = s.DeleteStream(bg, st, Any)
		case 6, 7, 8:
			err = s.SetStreamMetadata(bg, st, StreamMetadata{MaxCount: 1})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Roll on, so that what was written above is sealed.
	for range 40 {
		appendT(t, s, "filler", Any, ev(data))
	}
	return s, append(streams, "filler")
}

func TestCompactReclaimsSpaceAndKeepsWhatIsLive(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentSize: 64 << 10}
	s, streams := deadStore(t, dir, o)
	before := viewOf(t, s, streams)
	sizeBefore := dirSegmentBytes(t, dir)

	var progress, inStats int
	var surveyed CompactProgress
	rep, err := s.Compact(bg, &CompactOptions{Progress: func(p CompactProgress) {
		progress++
		if c := s.Stats().Compacting; c != nil && *c == p {
			inStats++
		}
		if p.Phase == CompactSurveying {
			surveyed = p
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The survey reports every sealed segment, and saw 90% of the events
	// of the test's streams dead.
	if surveyed.Segments != rep.Segments || surveyed.SegmentsDone != rep.Segments || surveyed.Dropped < rep.Dropped || surveyed.BytesRead == 0 {
		t.Fatalf("last survey report %+v; report %+v", surveyed, rep)
	}
	t.Logf("%+v; segment bytes %d -> %d", rep, sizeBefore, dirSegmentBytes(t, dir))
	if rep.Rewritten == 0 || rep.Dropped == 0 || progress == 0 {
		t.Fatalf("nothing compacted: %+v (%d progress calls)", rep, progress)
	}
	sameView(t, "after Compact", viewOf(t, s, streams), before)
	if inStats != progress {
		t.Fatalf("Stats showed %d of %d progress reports while compacting", inStats, progress)
	}
	if st := s.Stats(); st.Compactions != 1 || st.CompactedSegments != uint64(rep.Rewritten) || st.CompactedBytes == 0 || st.Compacting != nil {
		t.Fatalf("stats after compaction: %+v", st)
	}
	// The rewritten part: 90% of its events were dead.
	if rep.BytesAfter*100 > rep.BytesBefore*15 {
		t.Fatalf("compacted segments take %d bytes of %d before: more than 15%%", rep.BytesAfter, rep.BytesBefore)
	}
	// A second pass finds nothing more worth rewriting.
	if rep2, err := s.Compact(bg, nil); err != nil || rep2.Rewritten != 0 {
		t.Fatalf("second Compact: %+v, %v", rep2, err)
	}

	appendAfterCompaction(t, s, streams)
	after := viewOf(t, s, streams)
	if got := after.streams["s-3"]; len(got) != 1 || got[0].Version != 30 {
		t.Fatalf("deleted stream revived after compaction: %+v", got)
	}
	if got := after.streams["s-6"]; len(got) != 1 || got[0].Version != 30 {
		t.Fatalf("MaxCount 1 stream after compaction and an append: %+v", got)
	}
	s = reopenings(t, dir, o, s, func(t *testing.T, s *Store, how string) {
		sameView(t, how, viewOf(t, s, streams), after)
	})
	closeT(t, s)
	verifyClean(t, dir)
}

// appendAfterCompaction appends to the first ten of deadStore's streams:
// appends continue on every kind of stream (the kept records give the next
// record its skip pointer), apart from the tombstoned ones.
func appendAfterCompaction(t *testing.T, s *Store, streams []string) {
	t.Helper()
	for i, st := range streams[:10] {
		_, err := s.Append(bg, st, Any, ev("after"))
		if i < 3 {
			wantErrIs(t, err, ErrStreamDeleted)
		} else if err != nil {
			t.Fatalf("append to %s after compaction: %v", st, err)
		}
	}
}

// dirSegmentBytes sums the sizes of the segment files in dir.
func dirSegmentBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if _, ok := segment.ParseFileName(e.Name()); ok {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			n += info.Size()
		}
	}
	return n
}

// TestCompactKeepsPositionsValid: events keep their positions, a saved
// position whose record compaction removed still resumes a log read or a
// subscription (at the next record kept), and a position inside a kept
// record is still refused.
func TestCompactKeepsPositionsValid(t *testing.T) {
	dir := t.TempDir()
	s, _ := deadStore(t, dir, &Options{SegmentSize: 64 << 10})
	defer func() { _ = s.Close() }()
	all := collect(t, s.ReadAll(0))
	// The positions of every record before compaction, hidden ones too:
	// read through the log's files directly.
	var hidden []uint64
	for _, e := range allRecords(t, s) {
		if !slices.ContainsFunc(all, func(x RecordedEvent) bool { return x.Position == e }) {
			hidden = append(hidden, e)
		}
	}
	if _, err := s.Compact(bg, nil); err != nil {
		t.Fatal(err)
	}
	for _, pos := range hidden[:min(len(hidden), 200)] {
		got, err := collectErr(s.ReadAll(pos))
		if err != nil {
			t.Fatalf("ReadAll from a removed record's position %d: %v", pos, err)
		}
		var want []RecordedEvent
		for _, e := range all {
			if e.Position >= pos {
				want = append(want, e)
			}
		}
		if len(got) != len(want) || (len(got) > 0 && got[0].Position != want[0].Position) {
			t.Fatalf("ReadAll from %d: %d events, want %d", pos, len(got), len(want))
		}
	}
	// A subscription resumes from one too.
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	n := 0
	for e, err := range s.Subscribe(ctx, hidden[0], nil) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Position < hidden[0] {
			t.Fatalf("subscription from %d delivered %d", hidden[0], e.Position)
		}
		if n++; n == 5 {
			break
		}
	}
	for _, e := range all[:20] {
		if _, err := collectErr(s.ReadAll(e.Position + 8)); !errors.Is(err, ErrInvalidPosition) {
			t.Fatalf("ReadAll inside the kept record at %d: %v", e.Position, err)
		}
	}
}

// allRecords lists the positions of every record in the store's log,
// system records and hidden events included.
func allRecords(t *testing.T, s *Store) []uint64 {
	t.Helper()
	var out []uint64
	for _, f := range *s.segs.Load() {
		m, err := s.maps.acquire(f)
		if err != nil {
			t.Fatal(err)
		}
		end, _ := m.rangeEnd()
		for pos := f.base; pos < min(end, s.committed.Load()); {
			var r segment.Record
			n, err := segment.Decode(m.data, m.offset(pos), pos, &r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, pos)
			pos += uint64(n)
		}
		m.release()
	}
	return out
}

// TestCompactWithConcurrentReadersAndWriters runs compaction while
// appenders write and readers walk streams and the log: readers holding a
// segment being replaced keep it, later ones find the compacted one.
func TestCompactWithConcurrentReadersAndWriters(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentSize: 64 << 10, MaxMappedBytes: 256 << 10}
	s, streams := deadStore(t, dir, o)
	defer func() { _ = s.Close() }()
	want := viewOf(t, s, streams[3:])
	ctx, cancel := context.WithCancel(bg)
	errs := make(chan error, 3)
	go func() { // appends to a stream of its own
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := s.Append(bg, "writer", int64(i)-1, ev("w")); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 2 {
		go func() { // whole reads of the live streams, all the time
			for ctx.Err() == nil {
				for _, st := range []string{"s-6", "s-9", "s-19", "s-39"} {
					got, err := collectErr(s.ReadStream(st, 0, Forward))
					if err != nil || len(got) != len(want.streams[st]) {
						errs <- fmt.Errorf("read of %s during compaction: %d events, %v", st, len(got), err)
						return
					}
				}
				n := 0
				for e, err := range s.ReadAll(0) {
					if err != nil {
						errs <- err
						return
					}
					if e.Stream != "writer" {
						if n >= len(want.log) || e.Position != want.log[n].Position {
							errs <- fmt.Errorf("ReadAll during compaction: event %d at %d", n, e.Position)
							return
						}
						n++
					}
				}
			}
			errs <- nil
		}()
	}
	for range 3 {
		if _, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.1}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s.Stats().CompactedSegments == 0 {
		t.Fatal("nothing was compacted")
	}
}

// TestCompactCancelled: a cancelled Compact leaves the store as it was.
func TestCompactCancelled(t *testing.T) {
	dir := t.TempDir()
	s, streams := deadStore(t, dir, &Options{SegmentSize: 64 << 10})
	defer func() { _ = s.Close() }()
	want := viewOf(t, s, streams)
	ctx, cancel := context.WithCancel(bg)
	// Cancelled while copying the first run, after the survey.
	_, err := s.Compact(ctx, &CompactOptions{Progress: func(p CompactProgress) {
		if p.Phase == CompactCopying {
			cancel()
		}
	}})
	wantErrIs(t, err, context.Canceled)
	sameView(t, "after a cancelled Compact", viewOf(t, s, streams), want)
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		if strings.HasSuffix(n.Name(), ".compact") {
			t.Fatalf("temp file %s left behind", n.Name())
		}
	}
	if _, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 2}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("MinDeadRatio 2: %v", err)
	}
}

// TestCloseDuringCompact: Close cancels a compaction that is running (here
// slowed down by its throttle) and waits for it; both return.
func TestCloseDuringCompact(t *testing.T) {
	for _, d := range []Durability{SyncEachCommit, NoSync} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			o := &Options{SegmentSize: 64 << 10, Durability: d}
			s, streams := deadStore(t, dir, o)
			want := viewOf(t, s, streams)
			done := make(chan error, 1)
			go func() {
				_, err := s.Compact(bg, &CompactOptions{BytesPerSecond: 4 << 10})
				done <- err
			}()
			time.Sleep(200 * time.Millisecond) // well into its first, throttled pass
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a compaction throttled to 4 KiB/s finished before Close")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Compact did not return after Close")
			}
			s = openT(t, dir, o)
			defer func() { _ = s.Close() }()
			sameView(t, "after Close during Compact", viewOf(t, s, streams), want)
		})
	}
}

// TestCompactSnapshotRacesAMetadataChange: a metadata change written while
// compaction takes its retention snapshot may loosen retention (dropping
// MaxAge keeps hidden only what MaxAge hid at its own time, earlier than the
// snapshot's); compaction must not remove what readers see after it. The
// stream's events are all kept this time.
func TestCompactSnapshotRacesAMetadataChange(t *testing.T) {
	var clock int64 = 1_000_000
	useClock(t, &clock)

	s := openT(t, t.TempDir(), &Options{SegmentSize: 64 << 10})
	defer func() { _ = s.Close() }()
	data := strings.Repeat("x", 200)
	for i := range 100 {
		appendT(t, s, "aged", int64(i)-1, ev(data)) // stamped 1_000_000 + 10 i
		clock += 10
	}
	// Now 1_001_000: MaxAge 800 hides versions 0..20.
	if err := s.SetStreamMetadata(bg, "aged", StreamMetadata{MaxAge: 800}); err != nil {
		t.Fatal(err)
	}
	for range 400 {
		appendT(t, s, "filler", Any, ev(data)) // seal what "aged" wrote
	}
	testHookRetentionSnapshot = func() {
		testHookRetentionSnapshot = nil
		// Dropping MaxAge now keeps 0..20 hidden for good (TruncateBefore
		// 21); then time passes, and MaxAge as the snapshot knows it
		// would hide up to version 50.
		if err := s.SetStreamMetadata(bg, "aged", StreamMetadata{}); err != nil {
			t.Error(err)
		}
		clock += 300
	}
	defer func() { testHookRetentionSnapshot = nil }()
	before := collect(t, s.ReadStream("aged", 0, Forward))
	if _, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.01, BytesPerSecond: -1}); err != nil {
		t.Fatal(err)
	}
	if testHookRetentionSnapshot != nil {
		t.Fatal("the snapshot hook did not run")
	}
	after := collect(t, s.ReadStream("aged", 0, Forward))
	if len(after) != len(before) || len(after) != 79 {
		t.Fatalf("after compaction %d events of the stream, before %d (want 79: versions 21..99)", len(after), len(before))
	}
	for i := range after {
		if err := sameEvent(after[i], before[i]); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

// TestCompactSnapshotCancelled: the retention snapshot, which visits every
// stream with retention, stops when the context ends.
func TestCompactSnapshotCancelled(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{Durability: NoSync})
	defer func() { _ = s.Close() }()
	for i := range 3000 {
		if err := s.SetStreamMetadata(bg, fmt.Sprintf("s-%d", i), StreamMetadata{MaxCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	testHookRetentionSnapshot = func() { cancel() }
	defer func() { testHookRetentionSnapshot = nil }()
	_, err := s.Compact(ctx, nil)
	wantErrIs(t, err, context.Canceled)
	if st := s.Stats(); st.Compacting != nil {
		t.Fatalf("a cancelled compaction still shows as running: %+v", st.Compacting)
	}
	// The store goes on, and the next compaction runs.
	testHookRetentionSnapshot = nil
	if _, err := s.Compact(bg, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCompactWaitsForTheRunningOne: a second Compact waits for the one
// running, and gives up when its context ends.
func TestCompactWaitsForTheRunningOne(t *testing.T) {
	s, _ := deadStore(t, t.TempDir(), &Options{SegmentSize: 64 << 10})
	defer func() { _ = s.Close() }()
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := s.Compact(ctx, &CompactOptions{BytesPerSecond: 16 << 10})
		first <- err
	}()
	for s.Stats().Compacting == nil {
		select {
		case err := <-first:
			t.Fatalf("the slow compaction ended early: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	short, cancelShort := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancelShort()
	_, err := s.Compact(short, nil)
	wantErrIs(t, err, context.DeadlineExceeded)
	cancel()
	wantErrIs(t, <-first, context.Canceled)
	if _, err := s.Compact(bg, &CompactOptions{BytesPerSecond: -1}); err != nil {
		t.Fatal(err)
	}
}

// TestRemovedRecordOfAStreamWithoutRetention: compaction removes records
// only of streams with retention, so a back-pointer of any other stream
// into a removed part of a compacted segment is corruption, not the end
// of what retention kept: the read must say so rather than end early.
func TestRemovedRecordOfAStreamWithoutRetention(t *testing.T) {
	dir := t.TempDir()
	s, _ := deadStore(t, dir, &Options{SegmentSize: 64 << 10})
	live := collect(t, s.ReadAll(0))
	var removed []uint64
	for _, pos := range allRecords(t, s) {
		if !slices.ContainsFunc(live, func(x RecordedEvent) bool { return x.Position == pos }) {
			removed = append(removed, pos)
		}
	}
	if _, err := s.Compact(bg, &CompactOptions{BytesPerSecond: -1}); err != nil {
		t.Fatal(err)
	}
	// s-9 has no retention; point its version 20 back at a removed record.
	events := collect(t, s.ReadStream("s-9", 0, Forward))
	target := events[20]
	f := s.segs.Load().find(target.Position)
	if f == nil || !f.compacted {
		t.Fatalf("version 20 of s-9 is not in a compacted segment")
	}
	m, err := s.maps.acquire(f)
	if err != nil {
		t.Fatal(err)
	}
	off, ok := m.find(target.Position)
	if !ok {
		t.Fatal("kept record not found in its compacted segment")
	}
	var r segment.Record
	n, err := segment.Decode(m.data, off, target.Position, &r)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(removed, func(p uint64) bool { return p >= f.base && p < target.Position })
	if i < 0 {
		t.Fatal("no removed record before version 20 in its segment")
	}
	r.Prev, r.Skip = removed[i], segment.NoPosition
	buf := make([]byte, n)
	if _, err := segment.Encode(buf, &r); err != nil {
		t.Fatal(err)
	}
	m.release()
	closeT(t, s)
	fh, err := os.OpenFile(filepath.Join(dir, f.name), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt(buf, off); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir, nil)
	for _, dir := range []Direction{Backward, Forward} {
		from := int64(End)
		if dir == Forward {
			from = 0
		}
		got, err := collectErr(s.ReadStream("s-9", from, dir))
		var ce *CorruptionError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "s-9") {
			t.Fatalf("%v read over a pointer into a removed record: %d events, %v", dir, len(got), err)
		}
	}
	closeT(t, s)
	// Verify and Rebuild, which follow the chains over the whole log,
	// find it too, at the record that points back.
	rep, err := recovery.Verify(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		var ce *CorruptionError
		if errors.As(p, &ce) && ce.Segment == f.name && ce.Offset == off && strings.Contains(ce.Reason, `"s-9"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("Verify: problems %v, want one at %s offset %d", rep.Problems, f.name, off)
	}
	if err := os.Remove(filepath.Join(dir, indexName)); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, nil)
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Segment != f.name || ce.Offset != off {
		if err == nil {
			_ = s.Close()
		}
		t.Fatalf("Open rebuilding the index: %v, want corruption at %s offset %d", err, f.name, off)
	}
}

// TestCompactRunsFitTheMappingBudget: a run's segments are all mapped
// while it is rewritten, so a run holds at most half of MaxMappedBytes
// (mostly dead segments would otherwise merge without bound).
func TestCompactRunsFitTheMappingBudget(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentSize: 64 << 10, MaxMappedBytes: 256 << 10}
	s, streams := deadStore(t, dir, o)
	defer func() { _ = s.Close() }()
	before := viewOf(t, s, streams)
	var runs []int
	last := CompactSurveying
	rep, err := s.Compact(bg, &CompactOptions{BytesPerSecond: -1, Progress: func(p CompactProgress) {
		if p.Phase == CompactMeasuring && last != CompactMeasuring {
			runs = append(runs, p.Segments) // a run begins
		}
		last = p.Phase
	}})
	if err != nil {
		t.Fatal(err)
	}
	// 128 KiB of records per run: two 64 KiB segments at most.
	if rep.Rewritten < 4 || len(runs) != rep.Files || slices.Max(runs) > 2 {
		t.Fatalf("%d segments rewritten into %d files, runs of %v segments: runs larger than the budget", rep.Rewritten, rep.Files, runs)
	}
	sameView(t, "after Compact", viewOf(t, s, streams), before)
}

// TestCompactCountsOnlyDurableEvents: in NoSync (and SyncInterval) mode
// the index counts events before they are durable. Compaction must decide
// by what is durable at its checkpoint: here an event appended during the
// retention snapshot would make MaxCount 1 hide version 5, which a Sync
// promised; compaction removing version 5 for good and a power cut losing
// version 6 would leave the stream with nothing.
func TestCompactCountsOnlyDurableEvents(t *testing.T) {
	for _, d := range []Durability{NoSync, SyncInterval} {
		t.Run(d.String(), func(t *testing.T) {
			sim := simfs.New(simfs.Config{Seed: 1})
			o := &Options{Storage: sim, Durability: d, SyncInterval: time.Hour, SegmentSize: 64 << 10}
			s, err := Open("d", o)
			if err != nil {
				t.Fatal(err)
			}
			data := strings.Repeat("x", 200)
			if err := s.SetStreamMetadata(bg, "x", StreamMetadata{MaxCount: 1}); err != nil {
				t.Fatal(err)
			}
			for i := range 6 {
				// Large enough that dropping versions 0-4 shrinks
				// their segment (see compaction.Plan).
				appendT(t, s, "x", int64(i)-1, ev(strings.Repeat("x", 4000)))
			}
			for range 600 { // seal the segment of x's events
				appendT(t, s, "filler", Any, ev(data))
			}
			if err := s.Sync(); err != nil { // version 5 of x must survive
				t.Fatal(err)
			}
			testHookRetentionSnapshot = func() {
				testHookRetentionSnapshot = nil
				appendT(t, s, "x", 5, ev("version 6, never synced"))
			}
			defer func() { testHookRetentionSnapshot = nil }()
			rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.001, BytesPerSecond: -1})
			if err != nil || rep.Rewritten == 0 {
				t.Fatalf("Compact: %+v, %v", rep, err)
			}
			after := sim.Crash(rand.New(rand.NewPCG(1, 2)), simfs.DropAll)
			s.crashForTest()
			o.Storage = after
			s, err = Open("d", o)
			if err != nil {
				t.Fatalf("reopen after the power cut: %v", err)
			}
			defer func() { _ = s.Close() }()
			got, err := collectErr(s.ReadStream("x", 0, Forward))
			if err != nil || len(got) != 1 || got[0].Version != 5 {
				t.Fatalf("after the power cut: %d events (%v), want version 5 alone", len(got), err)
			}
		})
	}
}

// TestCompactWithAContextDoneAlready returns at once, whatever it finds.
func TestCompactWithAContextDoneAlready(t *testing.T) {
	s := openT(t, t.TempDir(), nil)
	defer func() { _ = s.Close() }()
	ctx, cancel := context.WithCancel(bg)
	cancel()
	for range 20 {
		_, err := s.Compact(ctx, nil)
		wantErrIs(t, err, context.Canceled)
	}
}

// TestReadAllSnapshotAcrossCompaction: a ReadAll that reaches a segment
// compacted after its snapshot was taken returns no event committed after
// the snapshot. The compaction removed the records before the snapshot's
// end, so the next record kept in the segment is a later one.
func TestReadAllSnapshotAcrossCompaction(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{SegmentSize: 64 << 10})
	defer closeT(t, s)
	data := strings.Repeat("x", 2000)
	for len(*s.segs.Load()) < 2 {
		appendT(t, s, "keep", Any, ev(data))
	}
	for range 10 {
		appendT(t, s, "dead", Any, ev(data)) // the second segment, before the snapshot
	}
	snapshot := s.committed.Load()
	first := true
	for e, err := range s.ReadAll(0) {
		if err != nil {
			t.Fatal(err)
		}
		if first {
			first = false
			for range 5 {
				appendT(t, s, "late", Any, ev(data)) // after the snapshot, same segment
			}
			appendT(t, s, "dead", Any, ev(data))
			if err := s.DeleteStream(bg, "dead", Any); err != nil {
				t.Fatal(err)
			}
			for len(*s.segs.Load()) < 4 {
				appendT(t, s, "filler", Any, ev(data))
			}
			rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.01, BytesPerSecond: -1})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Rewritten == 0 {
				t.Fatalf("compaction rewrote nothing: %+v", rep)
			}
		}
		if e.Position >= snapshot {
			t.Fatalf("ReadAll with snapshot %d returned %s/%d at %d, committed later", snapshot, e.Stream, e.Version, e.Position)
		}
	}
}

// TestStreamVersionAcrossCompaction: a compaction that finishes between a
// read's snapshot and its walk from the index tail back to the snapshot's
// newest event may have removed that event, as a later append (after the
// snapshot) put it beyond MaxCount. The stream has events throughout: it
// must not read as NoStream or empty.
func TestStreamVersionAcrossCompaction(t *testing.T) {
	for _, read := range []string{"StreamVersion", "ReadStream backward", "ReadStream forward"} {
		t.Run(read, func(t *testing.T) {
			s := openT(t, t.TempDir(), &Options{SegmentSize: 64 << 10})
			defer closeT(t, s)
			data := strings.Repeat("x", 2000)
			if err := s.SetStreamMetadata(bg, "s", StreamMetadata{MaxCount: 1}); err != nil {
				t.Fatal(err)
			}
			for range 6 {
				appendT(t, s, "s", Any, ev(data)) // versions 0-5, in the first segment
			}
			for len(*s.segs.Load()) < 2 {
				appendT(t, s, "filler", Any, ev(data))
			}
			once := true
			testHookStartSnapshot = func() {
				if !once {
					return
				}
				once = false
				appendT(t, s, "s", Any, ev(data)) // version 6, after the snapshot
				rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.01, BytesPerSecond: -1})
				if err != nil || rep.Rewritten == 0 {
					t.Errorf("compaction: %+v, %v", rep, err)
				}
			}
			defer func() { testHookStartSnapshot = nil }()
			var got []int64
			switch read {
			case "StreamVersion":
				v, err := s.StreamVersion("s")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			default:
				from, dir := End, Backward
				if read == "ReadStream forward" {
					from, dir = 0, Forward
				}
				for e, err := range s.ReadStream("s", from, dir) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, e.Version)
				}
			}
			if once {
				t.Fatal("the hook never ran")
			}
			if len(got) != 1 || got[0] != 6 {
				t.Fatalf("%s of a MaxCount 1 stream with versions 0-6: %v, want [6]", read, got)
			}
		})
	}
}

// TestCompactNeverGrowsFiles: with small events and a low MinDeadRatio, a
// rewrite's position map (16 bytes per kept record) can outweigh the dead
// records it drops. Compact used to write such files, larger than the
// segments they replaced.
func TestCompactNeverGrowsFiles(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, &Options{SegmentSize: 64 << 10})
	defer closeT(t, s)
	for i := 0; len(*s.segs.Load()) < 3; i++ {
		stream := "live"
		if i%20 == 0 {
			stream = "dead" // 5% of the records
		}
		appendT(t, s, stream, Any, Event{Type: "t"})
	}
	if err := s.DeleteStream(bg, "dead", Any); err != nil {
		t.Fatal(err)
	}
	before := dirSegmentBytes(t, dir)
	rep, err := s.Compact(bg, &CompactOptions{MinDeadRatio: 0.04, BytesPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	if after := dirSegmentBytes(t, dir); rep.BytesAfter > rep.BytesBefore || after > before {
		t.Fatalf("compaction grew the files: %d bytes -> %d rewritten, %d -> %d in all (%+v)", rep.BytesBefore, rep.BytesAfter, before, after, rep)
	}
}
