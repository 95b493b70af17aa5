package engine

import (
	"fmt"

	"github.com/spooldb/spool/hashindex"
)

// roomForLocked refuses to write a stream that would take a new index slot
// once the index holds hashindex.StreamLimit streams, counting those whose
// first records wait in pending for their group commit. Checked before
// anything is written: the alternative, a Put that fails after the records
// are in the log, fails the store, and the replay after a restart would
// meet the same growth that cannot be mapped and fail Open with it.
func (s *Store) roomForLocked(head *streamHead) error {
	if !head.fresh {
		return nil
	}
	limit := hashindex.StreamLimit()
	held, waiting := uint64(s.index.Len()), uint64(len(s.pending))
	if held+waiting < limit {
		return nil
	}
	return fmt.Errorf("%w: the index holds %d streams and %d appends wait for their commit; it holds %d at most here",
		ErrTooManyStreams, held, waiting, limit)
}
