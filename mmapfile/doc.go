// Package mmapfile is Spool's storage seam: every byte Spool keeps on disk is
// reached through the FS and File interfaces defined here, so nothing above
// this package calls mmap, msync, fallocate or flock itself, and tests can
// put a simulated, power-loss-capable implementation behind the same seam.
//
// # Files
//
// A File is a regular file whose size is fixed when it is created and which
// is mapped once, read-write and shared, for its whole life:
//
//	offset 0                                               Size()
//	+-------------------------------------------------------+
//	| bytes written by the layer above (segment, index)     |
//	+-------------------------------------------------------+
//	  ^ Bytes() is this whole range; stores to it are the writes
//	  ^ Sync(off, n) makes [off, off+n) durable (msync MS_SYNC over
//	    the page-aligned cover of the range, never the whole mapping)
//
// Files are never grown, shrunk or remapped while mapped: a layer that needs
// a bigger file builds a new one and renames it into place. That keeps every
// slice handed out by Bytes valid until Close.
//
// # Creating a file durably
//
// Create makes a fresh file of the requested size with its blocks reserved up
// front (fallocate; zeros written where the file system cannot fallocate;
// never a sparse file, so a later store through the mapping cannot fault
// with ENOSPC), maps it and prepares its pages (see prepare_linux.go for why
// and how). The caller then writes its header, calls Sync, renames the file
// to its final name and calls SyncDir: only then is the file's existence
// durable. Create is slow on purpose and belongs off the commit path.
//
// # Faults
//
// A store or load through a mapping whose file was truncated underneath it,
// or whose page cannot be read back, raises SIGBUS, which kills a Go process
// by default. Guard runs a function with runtime/debug.SetPanicOnFault set
// and turns such a fault inside one of this package's mappings into a
// *FaultError carrying the file name and offset. Code that touches mapped
// bytes runs inside Guard.
//
// # Locking
//
// Lock takes an exclusive, non-blocking flock on a LOCK file in the
// directory, so a second process (or a second FS in the same process) that
// opens the same directory fails with ErrLocked instead of corrupting it.
package mmapfile
