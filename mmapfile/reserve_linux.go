package mmapfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// reserve gives f exactly size bytes with every block allocated, so that no
// later store through the mapping can fault for lack of space.
func reserve(f *os.File, size int64, prep Prep) error {
	if prep == PrepZeroFill {
		return writeZeros(f, size)
	}
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		// tmpfs on old kernels, some FUSE and network file systems.
		return writeZeros(f, size)
	}
	if err != nil {
		return err
	}
	return f.Sync() // the allocation and the size must be durable too
}

func fsyncFile(f *os.File) error { return unix.Fsync(int(f.Fd())) }

// unsupported reports errors of file systems that do not implement a call
// (FUSE, some network and pseudo file systems); writeBack is only pacing,
// so it may fail that way.
func unsupported(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ESPIPE)
}

// writeBack writes [off, off+n) of f to the device and waits for it, without
// a cache flush or metadata (the caller syncs at the end).
func writeBack(f *os.File, off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}
