package segment

import (
	"fmt"
	"io"
)

// Source is a segment file read by copying (pread) rather than through its
// mapping; mmapfile.File is one.
type Source interface {
	io.ReaderAt
	Size() int64
}

// viewWindow is how much a View reads at a time: large enough that the
// read calls cost little next to the copying, small enough that the
// window stays in the CPU's cache while it is checked. Measured here,
// reading and hashing a 64 MiB segment from the page cache: 64 KiB reads
// ~22 ms, 256 KiB and 1 MiB ~11 ms, 4 MiB ~12.5 ms.
const viewWindow = 256 << 10

// View is a window over a segment's bytes: all of them, in memory
// (SetBytes), or a part read from a Source into a buffer reused from read
// to read (SetSource).
//
// Why read: a whole-log scan touches every page of segments that were
// just mapped, and each first touch of a mapped page is a page fault —
// on virtualised hosts with shadow page tables also a trip to the
// hypervisor. Measured on the 2-core VM this runs on, over a 64 MiB
// segment in the page cache: ~2.7 µs per 4 KiB page touched through a
// fresh mapping (~45 ms for the segment, MADV_POPULATE_READ saves ~13%),
// against ~6 ms to pread all of it into a 256 KiB buffer.
type View struct {
	src   Source
	size  int64  // the segment's length
	start int64  // file offset of win[0]
	win   []byte // the segment's bytes [start, start+len(win))
	buf   []byte // storage for win when reading from src, kept for reuse
	moves int    // counts window moves (see Moves)
	read  int64  // bytes to read at a time, viewWindow unless a test says
}

// SetBytes makes v a view of seg, a whole segment in memory.
func (v *View) SetBytes(seg []byte) {
	*v = View{size: int64(len(seg)), win: seg, buf: v.buf, read: v.read}
}

// SetSource makes v read the segment src on demand.
func (v *View) SetSource(src Source) {
	*v = View{src: src, size: src.Size(), buf: v.buf, read: v.read}
}

// Size is the segment's length.
func (v *View) Size() int64 { return v.size }

// Moves changes whenever the window moves: slices returned before then no
// longer hold the bytes they held.
func (v *View) Moves() int { return v.moves }

// At returns the segment's bytes from offset off (0 <= off <= Size) to the
// end of the window, which lies at or after min(end, Size) and at or
// before Size. The window may drop the bytes before keep (keep <= off),
// and only those: a slice returned for an offset at or after keep stays
// valid across the move, rebased (see Moves). An error is a failed read.
func (v *View) At(keep, off, end int64) ([]byte, error) {
	if off >= v.start && min(end, v.size) <= v.start+int64(len(v.win)) {
		return v.win[off-v.start:], nil
	}
	if err := v.fill(keep, min(end, v.size)); err != nil {
		return nil, err
	}
	return v.win[off-v.start:], nil
}

// fill moves the window to start at keep and reach at least end, keeping
// the bytes it already holds from keep on.
func (v *View) fill(keep, end int64) error {
	if v.src == nil {
		// SetBytes covers the whole segment; nothing can be missing.
		return fmt.Errorf("segment: view of %d bytes asked for [%d, %d)", v.size, keep, end)
	}
	read := int64(viewWindow)
	if v.read > 0 {
		read = v.read
	}
	n := min(max(read, end-keep), v.size-keep)
	var kept []byte
	if keep >= v.start && keep < v.start+int64(len(v.win)) {
		kept = v.win[keep-v.start:]
	}
	if int64(cap(v.buf)) < n {
		// A batch larger than the window: its records must all stay in
		// view until its last one is read.
		v.buf = make([]byte, min(max(n, 2*int64(cap(v.buf))), v.size))
	}
	buf := v.buf[:n]
	have := int64(copy(buf, kept)) // may overlap: copy moves
	v.moves++
	v.start, v.win = keep, buf
	if have == n {
		return nil
	}
	m, err := v.src.ReadAt(buf[have:], keep+have)
	if int64(m) < n-have {
		v.win = buf[:have]
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("segment: read [%d, %d) of a %d-byte segment: %w", keep+have, keep+n, v.size, err)
	}
	return nil
}
