package simfs

// PageSize is the granularity of dirty tracking, write-back and crash
// resolution, as on the machines Spool targets.
const PageSize = 4096

// SectorSize is the unit of a torn page: a page write that stops midway
// leaves some of its 512-byte sectors new and the rest old.
const SectorSize = 512

// inode is one file's contents, apart from the names it goes by.
//
// A page is dirty when live differs from what the page cache believes is
// on the device: normally the durable image, but after a failed Sync the
// page cache marks pages clean whatever reached the device, so cleanAs
// holds, for such pages, the content the page cache then believed
// written. Dirtiness is found by comparing rather than by tracking stores,
// because the program stores through Bytes without telling anyone.
type inode struct {
	name    string // the name File.Name reports
	live    []byte // what the program sees: Bytes, WriteAt
	durable []byte // what is on the device
	cleanAs map[int][]byte
	// before holds, for each page a write reached the device, what the
	// device held there before the last such write: a dropped write
	// (Corrupt, DroppedPage) puts it back.
	before map[int][]byte

	// frozen is live as it was when the FS froze: stores after that were
	// never made, as far as the device is concerned.
	frozen []byte

	// shown, when set, is what Bytes hands the program instead of live: a
	// second mapping of the same memory, whose pages FaultPage can make
	// fault (see faultImage).
	shown []byte
	fault *faultImage
}

func newInode(name string, size int64) *inode {
	return &inode{name: name, live: make([]byte, size), durable: make([]byte, size)}
}

// pages is the number of pages, the last one possibly partial.
func (n *inode) pages() int { return (len(n.live) + PageSize - 1) / PageSize }

// span returns the byte range of page p.
func (n *inode) span(p int) (int, int) {
	return p * PageSize, min((p+1)*PageSize, len(n.live))
}

// dirty reports whether page p of image img (live, or the frozen copy)
// differs from what the page cache believes is on the device.
func (n *inode) dirty(img []byte, p int) bool {
	lo, hi := n.span(p)
	if c, ok := n.cleanAs[p]; ok {
		return !same(img[lo:hi], c)
	}
	return !same(img[lo:hi], n.durable[lo:hi])
}

// writeBack makes page p of the live image durable, as a successful sync or
// the kernel's flusher does.
func (n *inode) writeBack(p int) {
	lo, hi := n.span(p)
	n.noteWrite(p, n.durable[lo:hi], n.live[lo:hi])
	snapshot(n.durable[lo:hi], n.live[lo:hi])
	delete(n.cleanAs, p)
}

// noteWrite remembers old, page p's device content, as what p held before
// a write that may change it to now (a torn write changes part of it).
func (n *inode) noteWrite(p int, old, now []byte) {
	if same(old, now) {
		return
	}
	if n.before == nil {
		n.before = make(map[int][]byte)
	}
	n.before[p] = clone(old)
}

// dirtyPages lists the dirty pages of the live image in [from, to).
func (n *inode) dirtyPages(from, to int) []int {
	var ps []int
	for p := from; p < to; p++ {
		if n.dirty(n.live, p) {
			ps = append(ps, p)
		}
	}
	return ps
}
