package segment

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is returned (wrapped in a *CorruptionError) when bytes that
	// should hold a valid header or record do not.
	ErrCorrupt = errors.New("corrupt data")

	// ErrTooLarge is returned by Encode when a record would not fit in the
	// buffer, or a field exceeds its on-disk width.
	ErrTooLarge = errors.New("segment: record too large")

	// ErrNotCompacted is returned by LoadPositionMap when given the header
	// of an ordinary segment, which has no position map.
	ErrNotCompacted = errors.New("segment: not a compacted segment")

	// ErrCompactWrite is returned (wrapped, with the details) by
	// NewCompactWriter, CompactWriter.Add and CompactWriter.Finish when
	// the file they were asked to lay out would break the compacted
	// format: a buffer of the wrong size for its records, a record out of
	// position order or outside the range, more or fewer records or bytes
	// than the buffer was sized for. A record whose bytes do not verify is
	// reported as the *CorruptionError Decode returns instead.
	ErrCompactWrite = errors.New("segment: invalid compacted segment layout")
)

// CorruptionError locates damaged bytes: the segment file, the byte offset
// in it and what was wrong.
type CorruptionError struct {
	Segment string
	Offset  int64
	Reason  string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("corrupt data in %s at offset %d: %s", e.Segment, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptionError) Unwrap() error { return ErrCorrupt }

// corruptf builds a *CorruptionError; the segment name is filled in by the
// caller that knows it (see WithSegment).
func corruptf(off int64, format string, args ...any) *CorruptionError {
	return &CorruptionError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// WithSegment names the segment of a *CorruptionError that lacks one and
// returns err; other errors pass through.
func WithSegment(err error, name string) error {
	if err == nil {
		return nil // before errors.As, whose target would escape: hot path
	}
	var ce *CorruptionError
	if errors.As(err, &ce) && ce.Segment == "" {
		ce.Segment = name
	}
	return err
}
