package mmapfile

// Prep chooses how Create prepares a new file's blocks. Both reserve every
// block up front (no sparse files, so no store can fault on a full disk) and
// leave the page cache holding the file in 4 KiB folios, so that a commit
// writes back only the pages it touched. They differ in when the file
// system's work is paid, measured on ext4 over a virtio disk (4 KiB commits
// through the mapping, msync per commit):
//
//	PrepZeroFill   writes the whole file once at creation (64 MiB for a
//	               default segment), then each commit costs ~240 µs p50 and
//	               ~4.4 KB of device writes.
//	PrepFallocate  writes nothing at creation, but the first commit to each
//	               page converts an unwritten extent: ~350-450 µs p50 and
//	               ~8 KB of device writes per 4 KiB commit.
//
// Over a fully written segment the device bytes come out about equal; the
// choice is commit latency (PrepZeroFill) against creation I/O
// (PrepFallocate, which suits slow flash such as SD cards).
type Prep int

const (
	// PrepZeroFill writes zeros in page-sized writes and syncs them.
	PrepZeroFill Prep = iota
	// PrepFallocate reserves blocks with fallocate (zero-filling only where
	// the file system cannot fallocate).
	PrepFallocate
)

func (p Prep) String() string {
	switch p {
	case PrepZeroFill:
		return "zero-fill"
	case PrepFallocate:
		return "fallocate"
	}
	return "unknown"
}
