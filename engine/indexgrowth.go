package engine

import (
	"errors"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
)

// Index growth ahead of need. The index doubles when it is 3/4 full, and
// the writer waits meanwhile: at a few million streams that was the
// longest pause an append ever saw. Once the index is half full, a
// goroutine of its own makes the next table's file (hashindex.PrepareGrowth)
// so that the growth only copies into it; the sync and rename run behind
// the writer too. Its own goroutine, not the spare preparer's: a large
// index's file takes long enough to make that a segment roll waiting
// behind it would pause appends again. Measured here at 1.5 Mi streams
// (2 Mi → 4 Mi slots): see README, Caveats.

// askIndexGrowth starts the preparation of the index's next file unless
// one runs. Called by whoever puts into the index through putIndex
// (appenders under s.mu, the applier), never after Close waited for
// indexPrep: by then no append runs.
func (s *Store) askIndexGrowth() {
	if !s.indexPrepping.CompareAndSwap(false, true) {
		return
	}
	ix := s.index // the goroutine may outlive it: then PrepareGrowth says ErrClosed
	s.indexPrep.Add(1)
	go func() {
		defer s.indexPrep.Done()
		defer s.indexPrepping.Store(false)
		s.prepareIndexGrowth(ix)
	}()
}

// prepareIndexGrowth prepares ix's next file. A failure costs only the
// time it saves (the growth then makes its file itself) and is counted
// like a failed spare.
func (s *Store) prepareIndexGrowth(ix *hashindex.Index) {
	err := mmapfile.Guard(ix.PrepareGrowth)
	if err != nil && !errors.Is(err, mmapfile.ErrClosed) {
		s.spareFailed(err)
	}
}
