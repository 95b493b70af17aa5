package mmapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// msync makes the page-aligned mapped range b durable. On macOS msync only
// reaches the drive's cache, so a full flush of the file follows.
func msync(b []byte, f *os.File) error {
	if err := unix.Msync(b, unix.MS_SYNC); err != nil {
		return err
	}
	return fsyncFile(f)
}
