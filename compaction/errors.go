package compaction

import "errors"

var (
	// ErrBadRun is returned (wrapped, with the details) by Rewrite and
	// Measure when the segments they are given cannot be compacted as
	// given: an empty run, segments that do not follow each other, a name
	// that is not the segment file name of its base, a file whose header
	// names another base or range, or a nil keep predicate.
	ErrBadRun = errors.New("compaction: invalid run of segments")

	// ErrBadOptions is returned (wrapped) by Options.Validate, and by
	// every function taking Options, for a value out of its range.
	ErrBadOptions = errors.New("compaction: invalid options")

	// ErrSourceChanged is returned (wrapped) by Rewrite when a source
	// segment held other records in the copying pass than in the
	// measuring pass: sealed segments must not change while compacted.
	// Nothing was replaced.
	ErrSourceChanged = errors.New("compaction: a sealed segment changed during compaction")

	// ErrSwapIncomplete is returned (wrapping the cause) by Rewrite when it
	// failed after renaming the new file over the first segment: the new
	// file is live and complete, but the directory change may not be
	// durable yet, or the replaced segments may still be there. Reads of
	// the old mappings stay correct; Cleanup (run by the next Open)
	// finishes the swap.
	ErrSwapIncomplete = errors.New("compaction: swap not finished")

	// ErrOverlap is returned (wrapped) by Cleanup when a compacted segment
	// lies partly outside another compacted segment whose range holds its
	// base: no compaction leaves that, so Cleanup removes nothing.
	ErrOverlap = errors.New("compaction: compacted segments overlap")
)
