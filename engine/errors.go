package engine

import (
	"errors"
	"fmt"

	"github.com/spooldb/spool/hashindex"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/segment"
)

var (
	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("spool: store is closed")

	// ErrFailed is returned by every method of a Store after a write-path
	// error (msync, fallocate, rename, a memory fault). The store
	// acknowledges nothing more, not even an append whose msync
	// completed just before the failure but whose group was not
	// acknowledged yet: for an Append, ErrFailed means the outcome is
	// unknown. Reopen the store to run recovery; a retry with the same
	// event IDs then finds such an append and writes nothing (see
	// Append). The error wraps the cause too.
	ErrFailed = errors.New("spool: store has failed")

	// ErrWrongExpectedVersion is returned (inside a
	// *WrongExpectedVersionError) when the stream's version does not match
	// the expected version of an append.
	ErrWrongExpectedVersion = errors.New("spool: wrong expected version")

	// ErrInvalidStreamID is returned when a stream ID is empty or longer
	// than MaxStreamIDLen bytes.
	ErrInvalidStreamID = errors.New("spool: invalid stream ID")

	// ErrInvalidEvent is returned when an event's type is longer than
	// MaxEventTypeLen bytes.
	ErrInvalidEvent = errors.New("spool: invalid event")

	// ErrEventTooLarge is returned when one event cannot fit in a segment.
	ErrEventTooLarge = errors.New("spool: event too large for a segment")

	// ErrBatchTooLarge is returned when the events of one append together
	// cannot fit in a segment (a batch never spans segments).
	ErrBatchTooLarge = errors.New("spool: events of one append too large for a segment")

	// ErrTooManyEvents is returned when an append has no events or more
	// than MaxEventsPerAppend.
	ErrTooManyEvents = errors.New("spool: wrong number of events in one append")

	// ErrTooManyStreams is returned by an append, SetStreamMetadata,
	// DeleteStream or TombstoneStream that would create a stream while the
	// index holds as many as this platform maps (hashindex.StreamLimit:
	// about 12.6 million on 32-bit, no practical limit on 64-bit). Nothing
	// was written, and the store stays usable: its streams take appends.
	ErrTooManyStreams = errors.New("spool: too many streams for this platform's index")

	// ErrInvalidExpectedVersion is returned for an expected version that is
	// neither a version (>= 0) nor one of Any, NoStream, StreamExists.
	ErrInvalidExpectedVersion = errors.New("spool: invalid expected version")

	// ErrStreamDeleted is returned by every append to, read of and change
	// of a stream after TombstoneStream (a hard delete): the stream can
	// never be written or read again, also after compaction.
	ErrStreamDeleted = errors.New("spool: stream is deleted (tombstoned)")

	// ErrInvalidMetadata is returned by SetStreamMetadata for metadata that
	// fails StreamMetadata.Validate.
	ErrInvalidMetadata = errors.New("spool: invalid stream metadata")

	// ErrInvalidPosition is returned by ReadAll and Subscribe when the
	// position is not the start of a record, or lies past the end of the
	// log. A damaged record at a record start is a corruption error
	// (ErrCorrupt) instead; when damage earlier in its segment hides which
	// of the two it is, the error wraps both.
	ErrInvalidPosition = errors.New("spool: invalid log position")

	// ErrInvalidRead is returned by ReadStream for a start version that
	// is neither a version (>= 0) nor End with Backward, or a Direction
	// other than Forward and Backward; and by SubscribeStream for a
	// negative start version.
	ErrInvalidRead = errors.New("spool: invalid stream read")

	// ErrInvalidOptions is returned by Open for options that fail
	// validation.
	ErrInvalidOptions = errors.New("spool: invalid options")

	// ErrCorrupt is returned (inside a *CorruptionError) when stored bytes
	// fail their checks: a checksum, a position, a broken chain; and
	// (wrapping a *hashindex.CorruptionError) when an index slot does.
	ErrCorrupt = segment.ErrCorrupt

	// ErrLocked is returned by Open when another Store holds the directory.
	ErrLocked = mmapfile.ErrLocked
)

// errOvertaken is returned by a stream read (ReadStream, StreamVersion,
// SubscribeStream) when compactions finishing while it started kept
// removing the events it started from; reading again succeeds. It takes
// maxStartAttempts compaction runs in a row, each finishing between the
// read's snapshot and its walk back over a few records.
var errOvertaken = errors.New("spool: stream read kept losing its start to compaction")

// errRetired is returned by mapper.acquire for a segment compaction
// replaced; the caller looks the position up in the new segment list.
var errRetired = errors.New("spool: segment replaced by compaction")

// CorruptionError locates damaged data: the file, the byte offset in it and
// what was wrong. errors.Is(err, ErrCorrupt) holds for it.
type CorruptionError = segment.CorruptionError

// WrongExpectedVersionError carries the versions of a failed expected
// version check. errors.Is(err, ErrWrongExpectedVersion) holds for it.
type WrongExpectedVersionError struct {
	Stream   string
	Expected int64 // as passed to the call
	Actual   int64 // the stream's version; NoStream when it has no events
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("spool: wrong expected version for stream %q: expected %s, actual %d",
		e.Stream, expectedString(e.Expected), e.Actual)
}

// Unwrap makes errors.Is(err, ErrWrongExpectedVersion) hold.
func (e *WrongExpectedVersionError) Unwrap() error { return ErrWrongExpectedVersion }

func expectedString(v int64) string {
	switch v {
	case Any:
		return "Any"
	case NoStream:
		return "NoStream"
	case StreamExists:
		return "StreamExists"
	}
	return fmt.Sprint(v)
}

// indexErr makes damage to the index an ErrCorrupt, like damage to the log:
// callers test one sentinel. The *hashindex.CorruptionError inside still
// names the file and offset.
func indexErr(err error) error {
	if err != nil && errors.Is(err, hashindex.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}
