package simfs

import "errors"

var (
	// ErrCrashed is returned by every call on an FS, and on its files and
	// lock, once the FS is frozen: its power was cut (Crash, Freeze, or
	// FreezeAfter reached). Only the FS that Crash returns goes on.
	ErrCrashed = errors.New("simfs: storage lost power")

	// ErrInjected is returned (wrapping the errno it simulates, such as
	// syscall.EIO or syscall.ENOSPC) by a call that FailNth chose to fail.
	ErrInjected = errors.New("simfs: injected failure")

	// ErrBadName is returned when a name is not a plain file name.
	ErrBadName = errors.New("simfs: not a plain file name")

	// ErrNoSuchCorruption is returned by Corrupt when the kind of damage
	// asked for cannot happen at the offset: no other page of the file
	// differs from it (MisdirectedPage), or no write ever reached it
	// (DroppedPage).
	ErrNoSuchCorruption = errors.New("simfs: no such corruption here")
)
