package recovery

import "errors"

var (
	// ErrNotStore is returned by Verify, PlanTruncate and Truncate when the
	// directory does not exist or holds no segment files, so that a typo
	// never creates or "verifies" an empty store.
	ErrNotStore = errors.New("recovery: not a spool store")

	// ErrReadOnly is returned when Verify or PlanTruncate, which never change
	// a directory, are asked (through their read-only view of it) to
	// create, rename or sync something.
	ErrReadOnly = errors.New("recovery: directory opened read-only")

	// ErrNoSegment is returned by PlanTruncate and Truncate when the
	// segment named as damaged is not in the directory.
	ErrNoSegment = errors.New("recovery: no such segment")

	// ErrIndexDamaged is returned by CheckIndex when the index file is
	// unusable or a slot does not validate. The index is derived data:
	// RemoveIndex, and the next Open rebuilds it from the log.
	ErrIndexDamaged = errors.New("recovery: the index is damaged")

	// ErrBrokenExists is returned by Truncate when a "<segment>.broken"
	// file already exists with other content: Truncate never overwrites a
	// copy of damaged data; move it away first.
	ErrBrokenExists = errors.New("recovery: a .broken copy with other content already exists")

	// ErrReplayUnsafe is returned by Replay when the index cannot be
	// brought up to date from its checkpoint: its header or slots do not
	// validate, its checkpoint lies outside the log, or an entry disagrees
	// with the log. Nothing was changed; the caller rebuilds the index
	// with Rebuild.
	ErrReplayUnsafe = errors.New("recovery: the index cannot be replayed from its checkpoint")
)
