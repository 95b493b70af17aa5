package engine

import "github.com/spooldb/spool/hashindex"

// Index checkpoints bound what Open scans after an unclean stop: the index
// is flushed with a checkpoint — a log position through which the log is
// durable and every index update is in the flushed slots — and recovery
// replays only the log after it (recovery.Replay).
//
// A checkpoint writes back every index page changed since the last one, so
// taking one costs up to the whole index file. Taking one after at least
// checkpointMinBytes of log, and at least checkpointIndexFactor times the
// index file's size, keeps the index's share of device writes at a quarter
// of the log's at worst, and the log left to replay at a few tens of
// megabytes for stores with up to a few million streams.
const checkpointIndexFactor = 4

// checkpointMinBytes is a variable so that tests can take checkpoints
// without writing megabytes.
var checkpointMinBytes uint64 = 16 << 20

// checkpointDue reports whether the log has grown enough since the last
// checkpoint, at log position at, to take another.
func (s *Store) checkpointDue(at uint64) bool {
	every := max(checkpointMinBytes, checkpointIndexFactor*(hashindex.HeaderSize+s.index.Slots()*hashindex.SlotSize))
	return at >= s.checkpointed.Load()+every
}

// checkpoint flushes the index with checkpoint at. The caller guarantees
// that the log is durable through at and that every index update for the
// records before at has been made (it runs after them, or holds s.mu,
// under which appends update the index). It runs inside mmapfile.Guard.
// A failed flush is a failed write-back: the caller fails the store.
//
// Checkpoints race (the applier, Sync, compaction): one whose target is
// not past the last one taken writes nothing. The index's checkpoint only
// moves forward, so that a replay never starts inside a segment that
// compaction rewrote below a later checkpoint.
func (s *Store) checkpoint(at uint64) error {
	if err := s.usable(); err != nil {
		return err // nothing is written after a failure
	}
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	if at <= s.checkpointed.Load() {
		return nil // a later one covers every update before at
	}
	// 0: only a clean header records the length of the last record.
	if err := s.index.Flush(at, 0, false); err != nil {
		return err
	}
	s.checkpointed.Store(at)
	return nil
}
