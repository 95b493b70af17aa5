package mmapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// msync makes the page-aligned mapped range b durable. On Linux msync
// MS_SYNC writes the range back and waits for it, including the device cache
// flush (it ends in vfs_fsync_range).
func msync(b []byte, _ *os.File) error { return unix.Msync(b, unix.MS_SYNC) }
