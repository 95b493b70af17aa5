package bench

import (
	"time"
)

// Device reads the write counters of the block device behind a directory.
type Device struct {
	Name         string // kernel name in /proc/diskstats, e.g. "vda" or "nvme0n1p2"
	Major, Minor uint32
	Disk         string // the whole disk holding Name (Name itself for a whole disk)
}

// DiskCounters is one reading of a device's write counters.
type DiskCounters struct {
	SectorsWritten uint64 // 512-byte units, whatever the device's sector size
	Writes         uint64 // write requests completed
	Flushes        uint64 // flush requests completed (0 on kernels that do not count them)
}

// BytesWritten is the device bytes written.
func (c DiskCounters) BytesWritten() int64 { return int64(c.SectorsWritten * 512) }

// Sub returns c - o.
func (c DiskCounters) Sub(o DiskCounters) DiskCounters {
	return DiskCounters{c.SectorsWritten - o.SectorsWritten, c.Writes - o.Writes, c.Flushes - o.Flushes}
}

// Settle waits until the device has written nothing for a quiet interval
// (100 ms), at most limit. It reports whether the device became quiet.
func (d *Device) Settle(limit time.Duration) bool {
	if d == nil || limit <= 0 {
		return false
	}
	const quiet = 100 * time.Millisecond
	deadline := time.Now().Add(limit)
	last, err := d.Read()
	if err != nil {
		return false
	}
	for time.Now().Before(deadline) {
		time.Sleep(quiet)
		c, err := d.Read()
		if err != nil {
			return false
		}
		if c.SectorsWritten == last.SectorsWritten {
			return true
		}
		last = c
	}
	return false
}
