package engine

import (
	"testing"

	"github.com/spooldb/spool/hashindex"
)

// TestFingerprintCollisions runs appends, deletes, retention, compaction,
// crash recovery and an index rebuild with every stream ID hashed to one
// of two fingerprints, so that each index lookup meets slots of other
// streams first and only the record check can tell them apart. A lookup
// that trusts the fingerprint alone reads another stream's chain.
func TestFingerprintCollisions(t *testing.T) {
	fps := [2]hashindex.Fingerprint{{Hi: 0x1234, Lo: 0x5678}, {Hi: 0x1234, Lo: 0x5679}}
	defer hashindex.SetFingerprintFuncForTest(func(id []byte) hashindex.Fingerprint {
		return fps[len(id)%2]
	})()

	dir := t.TempDir()
	o := &Options{SegmentSize: 64 << 10}
	s, streams := deadStore(t, dir, o)
	before := viewOf(t, s, streams)
	rep, err := s.Compact(bg, nil)
	if err != nil {
		t.Fatalf("Compact with colliding fingerprints: %v", err)
	}
	if rep.Rewritten == 0 || rep.Dropped == 0 {
		t.Fatalf("nothing compacted: %+v", rep)
	}
	sameView(t, "after Compact", viewOf(t, s, streams), before)
	appendAfterCompaction(t, s, streams)
	after := viewOf(t, s, streams)
	// Not recovery.Verify: it tells streams apart by fingerprint alone
	// (see its doc), so forced collisions look like broken chains to it.
	s = reopeningsVerified(t, dir, o, s, func(t *testing.T, s *Store, how string) {
		sameView(t, how, viewOf(t, s, streams), after)
	}, false)
	closeT(t, s)
}
