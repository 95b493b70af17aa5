package crash

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// TestUnsyncedGroupAcrossRoll: appends not yet synced end one segment and
// start the next (a roll inside one unsynced group). The kernel may write
// the new segment's pages back before the old one's, and the power fails:
// the old segment stops short while the new one holds records. None of
// them was acknowledged as durable (their synced-through fields say so),
// so this is a torn tail and the store must open, not report corruption.
//
// Found by TestRandomCrashStates, seed 1772 (SyncEachCommit, group commit
// spanning a roll); reproduced here deterministically with NoSync.
func TestUnsyncedGroupAcrossRoll(t *testing.T) {
	const segSize = 64 << 10
	fs := simfs.New(simfs.Config{Seed: 1})
	opts := &engine.Options{Storage: fs, SegmentSize: segSize, IndexSlots: 16, Durability: engine.NoSync}
	s, err := engine.Open("roll", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(bg, "a", engine.NoStream, engine.Event{Type: "t", Data: []byte("in the first segment")}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{7}, segSize/2)
	for i := range 2 { // the second one rolls
		if _, err := s.Append(bg, "b", int64(i)-1, engine.Event{Type: "t", Data: big}); err != nil {
			t.Fatal(err)
		}
	}
	names, err := fs.List()
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if _, ok := segment.ParseFileName(n); ok {
			segs = append(segs, n)
		}
	}
	if len(segs) != 2 {
		t.Fatalf("segments %v, want two", segs)
	}
	// The flusher writes the second segment back; the first stays dirty.
	f, err := fs.Open(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(0, f.Size()); err != nil {
		t.Fatal(err)
	}
	after := fs.Crash(rand.New(rand.NewPCG(1, 1)), simfs.DropAll)
	_ = s.Close()

	s2, err := engine.Open("roll", &engine.Options{Storage: after, SegmentSize: segSize, IndexSlots: 16})
	if err != nil {
		t.Fatalf("open after a power cut that tore an unsynced group across a roll: %v", err)
	}
	defer s2.Close()
	for e, err := range s2.ReadAll(0) {
		if err != nil {
			t.Fatal(err)
		}
		t.Fatalf("recovered an event (stream %s) of a group that never reached the device whole", e.Stream)
	}
}
