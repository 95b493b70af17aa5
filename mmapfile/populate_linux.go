package mmapfile

import "golang.org/x/sys/unix"

// populateRead faults in every page of b in one madvise(MADV_POPULATE_READ)
// call (Linux 5.14 and later), as read faults, so with the mapping's
// read-ahead hint: the same 4 KiB folios as touchPages. It reports false
// when the kernel refused, and the caller touches the pages itself.
//
// Measured here on a 64 MiB segment: ~3 ms against ~35 ms for touchPages on
// a zero-filled file (whose pages are in the cache already), 30-220 ms
// against ~260 ms on a fallocated one. The CPU saved is the appenders':
// spares are prepared while they run.
func populateRead(b []byte) bool {
	return unix.Madvise(b, unix.MADV_POPULATE_READ) == nil
}
