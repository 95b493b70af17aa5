package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooldb/spool/segment"
)

// smallCheckpoints makes the store checkpoint its index every few KiB of
// log for the rest of the test.
func smallCheckpoints(t *testing.T) {
	old := checkpointMinBytes
	checkpointMinBytes = 32 << 10
	t.Cleanup(func() { checkpointMinBytes = old })
}

// checkpointWorkload appends n events to streams s0..s9, recording each
// stream's events in want (created when nil), which it returns.
func checkpointWorkload(t *testing.T, s *Store, want map[string][]string, n int) map[string][]string {
	if want == nil {
		want = map[string][]string{}
	}
	for i := range n {
		name := fmt.Sprintf("s%d", i%10)
		data := fmt.Sprintf("%s-%d-%s", name, len(want[name]), string(make([]byte, i%300)))
		appendT(t, s, name, int64(len(want[name]))-1, ev(data))
		want[name] = append(want[name], data)
	}
	return want
}

func checkStreams(t *testing.T, s *Store, want map[string][]string) {
	t.Helper()
	for name, datas := range want {
		got := collect(t, s.ReadStream(name, 0, Forward))
		if len(got) != len(datas) {
			t.Fatalf("%s: %d events, want %d", name, len(got), len(datas))
		}
		for i, e := range got {
			if string(e.Data) != datas[i] || e.Version != int64(i) {
				t.Fatalf("%s@%d: got version %d data %.20q, want %.20q", name, i, e.Version, e.Data, datas[i])
			}
		}
	}
}

// TestCrashReplaysFromCheckpoint: after a crash, Open scans only the log
// written since the index's last checkpoint, and the result equals the
// full rebuild's.
func TestCrashReplaysFromCheckpoint(t *testing.T) {
	smallCheckpoints(t)
	for _, d := range []Durability{SyncEachCommit, SyncInterval} {
		t.Run(d.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{Durability: d, SegmentSize: 256 << 10, IndexSlots: 16}
			s := openT(t, dir, opts)
			want := checkpointWorkload(t, s, nil, 1500)
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			checkpointWorkload(t, s, want, 40) // after the last checkpoint, probably
			if err := s.Sync(); err != nil {
				t.Fatal(err)
			}
			total := s.Stats().Events
			s.crashForTest()

			s = openT(t, dir, opts)
			rec := s.Recovered()
			if !rec.ReplayedIndex || rec.RebuiltIndex || rec.Records >= int(total)/2 {
				t.Fatalf("recovery %+v after %d events: want a replay of the log's tail only", rec, total)
			}
			checkStreams(t, s, want)
			appendT(t, s, "s0", int64(len(want["s0"]))-1, ev("after"))
			want["s0"] = append(want["s0"], "after")
			s.crashForTest()

			// The same store, with the index removed, rebuilds to the same.
			if err := os.Remove(filepath.Join(dir, indexName)); err != nil {
				t.Fatal(err)
			}
			s = openT(t, dir, opts)
			defer closeT(t, s)
			if !s.Recovered().RebuiltIndex {
				t.Fatalf("recovery %+v without an index", s.Recovered())
			}
			checkStreams(t, s, want)
		})
	}
}

// TestReplayFallsBackOnDamagedIndex: a damaged slot makes replay unsafe;
// Open rebuilds the index from the whole log instead.
func TestReplayFallsBackOnDamagedIndex(t *testing.T) {
	smallCheckpoints(t)
	dir := t.TempDir()
	opts := &Options{SegmentSize: 256 << 10, IndexSlots: 16}
	s := openT(t, dir, opts)
	want := checkpointWorkload(t, s, nil, 600)
	s.crashForTest()
	patchFile(t, filepath.Join(dir, indexName), func(b []byte) {
		for i := 4096; i < len(b); i += 48 { // the first live slot's version
			if b[i] != 0 || b[i+1] != 0 {
				b[i+24] ^= 1
				return
			}
		}
		t.Fatal("no live slot")
	})
	s = openT(t, dir, opts)
	defer closeT(t, s)
	if rec := s.Recovered(); !rec.RebuiltIndex || rec.ReplayedIndex {
		t.Fatalf("recovery %+v, want a rebuild", rec)
	}
	checkStreams(t, s, want)
}

// TestReplayRefusesEntryPastLogEnd: in NoSync mode the index points at
// records before they are durable. If a power cut takes those records but
// an index page with such an entry survived, replaying would leave the
// stream pointing past the log: Open must rebuild instead.
func TestReplayRefusesEntryPastLogEnd(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{Durability: NoSync, SegmentSize: 256 << 10, IndexSlots: 16}
	s := openT(t, dir, opts)
	want := checkpointWorkload(t, s, nil, 100)
	if err := s.Sync(); err != nil { // checkpoint at the end
		t.Fatal(err)
	}
	lost := appendT(t, s, "s3", int64(len(want["s3"]))-1, ev("lost"))
	s.crashForTest()
	// The power cut: the log after the checkpoint never reached the disk,
	// the index page holding s3's new entry did.
	patchFile(t, lastSegmentPath(t, dir), func(b []byte) {
		clear(b[int64(lost.Position)+segment.HeaderSize:])
	})
	s = openT(t, dir, opts)
	defer closeT(t, s)
	if rec := s.Recovered(); !rec.RebuiltIndex || rec.LogEnd != lost.Position {
		t.Fatalf("recovery %+v, want a rebuild ending at %d", rec, lost.Position)
	}
	checkStreams(t, s, want)
}

// TestDamagedIndexSlotIsErrCorrupt: a damaged slot of an index that Open
// trusted (clean close) is reported as ErrCorrupt by reads and appends,
// like damaged log bytes are.
func TestDamagedIndexSlotIsErrCorrupt(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{SegmentSize: 256 << 10, IndexSlots: 16}
	s := openT(t, dir, opts)
	appendT(t, s, "only", NoStream, ev("x"))
	closeT(t, s)
	patchFile(t, filepath.Join(dir, indexName), func(b []byte) {
		for i := 4096; i < len(b); i += 48 {
			if b[i] != 0 || b[i+1] != 0 {
				b[i+24] ^= 1 // the version: the slot checksum fails
				return
			}
		}
		t.Fatal("no live slot")
	})
	s = openT(t, dir, opts)
	defer closeT(t, s)
	_, err := collectErr(s.ReadStream("only", 0, Forward))
	wantErrIs(t, err, ErrCorrupt)
	_, err = s.StreamVersion("only")
	wantErrIs(t, err, ErrCorrupt)
	_, err = s.Append(bg, "only", Any, ev("y"))
	wantErrIs(t, err, ErrCorrupt)
}

// TestCheckpointNeverMovesBack: checkpoints race (the applier, Sync,
// compaction), and one with a target older than a checkpoint already
// taken must not lower the index's: compaction rewrites segments below the
// checkpoint it took, and a replay must never start inside one.
func TestCheckpointNeverMovesBack(t *testing.T) {
	s := openT(t, t.TempDir(), &Options{Durability: NoSync})
	defer closeT(t, s)
	for i := range 100 {
		appendT(t, s, fmt.Sprint(i%7), Any, ev("x"))
	}
	half := s.committed.Load()
	for i := range 100 {
		appendT(t, s, fmt.Sprint(i%7), Any, ev("x"))
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	end := s.index.Checkpoint()
	if end <= half {
		t.Fatalf("Sync checkpointed at %d, before %d", end, half)
	}
	if err := s.checkpoint(half); err != nil { // a slower racer
		t.Fatal(err)
	}
	if got := s.index.Checkpoint(); got != end || s.checkpointed.Load() != end {
		t.Fatalf("checkpoint %d after one at %d and a late one at %d", got, end, half)
	}
}
