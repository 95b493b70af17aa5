package bench

import "errors"

var (
	// ErrRawClosed is returned by RawLog.Append after Close.
	ErrRawClosed = errors.New("bench: raw log closed")

	// ErrNoDevice is returned when the block device behind a directory
	// cannot be found (tmpfs, overlay, non-Linux systems).
	ErrNoDevice = errors.New("bench: no block device statistics for this directory")

	// ErrStalled is wrapped by the error of a workload that stopped making
	// progress (an engine loop that never ends, for one).
	ErrStalled = errors.New("bench: no progress")
)
