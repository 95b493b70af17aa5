package mmapfile

import "io"

// FS is a directory of mapped files. Names are plain file names inside the
// directory, never paths. Directory changes (Create, Rename, Remove) are
// durable only after SyncDir returns.
type FS interface {
	// Create makes name as a new file of exactly size bytes, all zero,
	// with its space reserved, and maps it read-write. It fails if name
	// exists.
	Create(name string, size int64) (File, error)
	// Open maps the existing file name read-write, at its current size.
	Open(name string) (File, error)
	// Rename atomically replaces newName with oldName.
	Rename(oldName, newName string) error
	// Remove deletes name. An open File of that name stays valid.
	Remove(name string) error
	// List returns the names in the directory, sorted.
	List() ([]string, error)
	// SyncDir makes the directory's entries durable.
	SyncDir() error
	// Lock takes the directory's exclusive lock, or fails with ErrLocked.
	Lock() (io.Closer, error)
	// Path describes the directory in messages.
	Path() string
}

// File is one mapped file of fixed size.
type File interface {
	// Name is the file's name when it was created or opened, or after the
	// last Rename through its FS.
	Name() string
	// Bytes is the whole mapping. Stores to it are writes to the file.
	// The slice is valid until Close.
	Bytes() []byte
	// Size is the file's (and the mapping's) length in bytes.
	Size() int64
	// WriteAt writes p at off through the file rather than through the
	// mapping (pwrite). The mapping shows the bytes as soon as it returns:
	// both share the page cache. Like a store to Bytes, the write is
	// durable only after Sync covers it. Making pages dirtied this way
	// durable costs less than for pages dirtied through the mapping (no
	// page-table write-protection and TLB shootdown on write-back). A file
	// truncated from outside is not written (ErrTruncated): a store to the
	// mapping would fault there.
	WriteAt(p []byte, off int64) error
	// ReadAt copies the file's bytes at off into p (pread), as io.ReaderAt
	// does; they are the bytes Bytes shows. A scan that reads a file once
	// copies it for much less than it costs to fault its mapping in (see
	// segment.View).
	ReadAt(p []byte, off int64) (int, error)
	// Sync makes [off, off+n) durable: on return, the pages covering the
	// range have reached stable storage. An error means some of those pages
	// may be lost; retrying is not safe (the kernel may have marked them
	// clean), so callers treat it as fatal.
	Sync(off, n int64) error
	// Advise passes an access-pattern hint for [off, off+n). Hints are
	// advisory: implementations may ignore them, and errors are not reported.
	Advise(off, n int64, advice Advice)
	// Close unmaps and closes the file. Bytes must not be used afterwards.
	Close() error
}

// Advice is an access-pattern hint for Advise.
type Advice int

const (
	// AdviseNormal restores the default read-ahead.
	AdviseNormal Advice = iota
	// AdviseRandom disables read-ahead (index probes, backward stream walks).
	AdviseRandom
	// AdviseSequential asks for aggressive read-ahead (log scans).
	AdviseSequential
	// AdviseWillNeed starts reading the range in now.
	AdviseWillNeed
	// AdviseWillWrite faults the range in for writing now (Linux 5.14+
	// MADV_POPULATE_WRITE; ignored elsewhere), so that the stores that
	// follow take no page faults. It dirties the pages without changing
	// their bytes: advise only pages about to be written, or the range is
	// written back as it is.
	AdviseWillWrite
)
