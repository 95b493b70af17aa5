package crash

import (
	"testing"

	"github.com/spooldb/spool/engine"
	"github.com/spooldb/spool/mmapfile/simfs"
)

// TestPrefixCheckCatchesHole: a recovered log that keeps an acknowledged
// batch but not an earlier one of another stream (each stream's versions
// still contiguous) must be reported; one that drops a batch with
// everything after it must not.
func TestPrefixCheckCatchesHole(t *testing.T) {
	mk := func(seq int64, pos uint64) *batch {
		return &batch{events: []engine.Event{{ID: eventID(1, 0, int(seq))}}, status: acked, seq: seq, res: engine.AppendResult{Position: pos}}
	}
	a, b := mk(1, 0), mk(2, 100)
	m := &model{streams: []*stream{{name: "a", batches: []*batch{a}}, {name: "b", batches: []*batch{b}}}}
	m.checkPrefix(map[[16]byte]bool{a.events[0].ID: true})
	if err := m.err(); err != nil {
		t.Fatalf("the log dropped its last batch only: %v", err)
	}
	m.checkPrefix(map[[16]byte]bool{b.events[0].ID: true})
	if m.err() == nil {
		t.Fatal("the log kept the batch at 100 without the one at 0: not reported")
	}
}

// TestProbeFailedCatchesLiveStore: probeFailed, run on a store that has
// not failed, must report every call that succeeds.
func TestProbeFailedCatchesLiveStore(t *testing.T) {
	s, err := engine.Open("live", &engine.Options{Storage: simfs.New(simfs.Config{Seed: 1}), SegmentSize: 64 << 10, IndexSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &model{seed: 1, streams: []*stream{{name: "a", version: -1}}}
	probeFailed(s, m)
	if n := len(m.violations); n != 9 {
		t.Fatalf("probe of a live store: %d violations, want 9 (Append, Sync, ReadAll, ReadStream, StreamVersion, DeleteStream, SetStreamMetadata, StreamMetadata, Compact):\n%v", n, m.err())
	}
}
