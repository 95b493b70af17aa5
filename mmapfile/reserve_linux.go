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
