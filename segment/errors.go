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
