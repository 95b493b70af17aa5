package mmapfile

import (
	"errors"
	"fmt"
)

var (
	// ErrLocked is returned by Lock when another holder has the directory locked.
	ErrLocked = errors.New("mmapfile: directory is locked by another store")

	// ErrFault is returned (wrapped in a *FaultError) by Guard when the guarded
	// function hit a memory fault inside a mapping made by this package.
	ErrFault = errors.New("mmapfile: memory fault in mapped file")

	// ErrClosed is returned when a File or FS is used after Close.
	ErrClosed = errors.New("mmapfile: file is closed")

	// ErrInvalidSize is returned by Create when the requested size is not
	// positive or cannot be mapped on this platform.
	ErrInvalidSize = errors.New("mmapfile: invalid file size")

	// ErrInvalidRange is returned by Sync and WriteAt when the range lies
	// outside the file.
	ErrInvalidRange = errors.New("mmapfile: range outside the file")

	// ErrTruncated is returned by WriteAt when the file is shorter than
	// its mapping: something truncated it from outside. Writing anyway
	// would extend it again, sparse, over the data it lost.
	ErrTruncated = errors.New("mmapfile: file truncated from outside")

	// ErrEmptyFile is returned by Open for a file of size zero, which cannot
	// be mapped and is never produced by Create.
	ErrEmptyFile = errors.New("mmapfile: file is empty")
)

// FaultError describes a memory fault (SIGBUS or SIGSEGV) taken while
// touching a mapped file, typically because the file was truncated from
// outside or its page could not be read back from the device.
type FaultError struct {
	File   string  // file name as given to Create or Open
	Offset int64   // byte offset of the faulting address in the file
	Addr   uintptr // the faulting address
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("mmapfile: memory fault in %s at offset %d (file truncated or unreadable?)", e.File, e.Offset)
}

// Unwrap makes errors.Is(err, ErrFault) hold.
func (e *FaultError) Unwrap() error { return ErrFault }
