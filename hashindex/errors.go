package hashindex

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalid is returned (wrapped, with the file name and the reason) by
	// Open when the index file cannot be used as it stands: wrong magic,
	// format version or byte order, a header checksum mismatch, a slot count
	// or file size that does not add up. The index is derived data, so the
	// caller's answer is to rebuild it from the log.
	ErrInvalid = errors.New("hashindex: invalid index file")

	// ErrCorrupt is returned, wrapped in a *CorruptionError, when a slot that
	// is read (by Lookup, Put, growth or Validate) fails its checksum or its
	// invariants, or when Validate finds the header count disagreeing with
	// the slots.
	ErrCorrupt = errors.New("hashindex: corrupt index")

	// ErrFull is returned (wrapped) by Put for a new stream when the table
	// would have to grow past MaxSlots, the largest this platform maps (at
	// StreamLimit streams), by SlotsFor for more streams than that, and by
	// Create asked for more slots. Nothing was written: the index still
	// holds what it held, and Puts of its streams still work.
	ErrFull = errors.New("hashindex: index full: the largest table this platform maps holds no more streams")
)

// CorruptionError locates a damaged byte range of an index file.
type CorruptionError struct {
	File   string // index file name as given to Create or Open
	Offset int64  // byte offset of the damaged slot or header field
	Reason string // what was wrong there
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("hashindex: corrupt data in index file %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptionError) Unwrap() error { return ErrCorrupt }

// invalid builds the error Open returns for an unusable file.
func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, name, fmt.Sprintf(format, args...))
}
