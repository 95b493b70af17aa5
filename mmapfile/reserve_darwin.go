package mmapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// reserve gives f exactly size bytes of written zeros, whatever prep asks:
// macOS has no fallocate that sets the size, and a sparse file could fault
// on a full disk.
func reserve(f *os.File, size int64, _ Prep) error { return writeZeros(f, size) }

// fsyncFile asks for a full flush: plain fsync on macOS stops at the drive's
// cache.
func fsyncFile(f *os.File) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_FULLFSYNC, 0)
	return err
}

// writeBack is a no-op: macOS has no sync_file_range, and the final
// F_FULLFSYNC writes everything.
func writeBack(*os.File, int64, int64) error { return nil }

func unsupported(error) bool { return false }
