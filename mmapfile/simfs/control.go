package simfs

import (
	"errors"
	"fmt"
	iofs "io/fs"
)

// Ops returns how many storage operations the FS has served.
func (fs *FS) Ops() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.ops
}

// Stats returns what the FS has done so far.
func (fs *FS) Stats() Stats {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.stats
}

// FreezeAfter makes the FS lose power once it has served k storage
// operations in all (counted from New, see Ops): the k-th completes, the
// next one fails with ErrCrashed. k <= 0 cancels.
func (fs *FS) FreezeAfter(k int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.freezeAt = max(k, 0)
}

// Freeze cuts the power now: every later call fails with ErrCrashed, and
// stores through Bytes from now on are not part of what Crash resolves.
func (fs *FS) Freeze() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.freezeLocked()
}

// Frozen reports whether the FS has lost power.
func (fs *FS) Frozen() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.frozen
}

func (fs *FS) freezeLocked() {
	if fs.frozen {
		return
	}
	fs.frozen = true
	for _, ino := range fs.inodes {
		ino.frozen = clone(ino.live)
	}
}

// FailNth makes the k-th call of op from now on fail (k >= 1; 0 cancels),
// with an error wrapping ErrInjected and ENOSPC (Create, Rename, WriteAt)
// or EIO (the others). A failed Sync leaves its pages resolved at random
// and marked clean; a failed SyncDir leaves the directory changes pending.
func (fs *FS) FailNth(op Op, k int64) {
	if op < 0 || op >= numOps {
		panic(fmt.Sprintf("simfs: FailNth of unknown %v", op))
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if k <= 0 {
		fs.fail[op] = 0
		return
	}
	fs.fail[op] = fs.count[op] + k
}

func isInjected(err error) bool { return errors.Is(err, ErrInjected) }

// failPages resolves the dirty pages covering [off, off+n) of ino as a
// failed write-back leaves them: each durable, lost or torn, and all marked
// clean at their present content. Called with fs.mu held.
func (fs *FS) failPages(ino *inode, off, n int64) {
	size := int64(len(ino.live))
	off, end := max(off, 0), min(off+max(n, 0), size)
	if end <= off {
		return
	}
	for _, p := range ino.dirtyPages(int(off/PageSize), int((end+PageSize-1)/PageSize)) {
		lo, hi := ino.span(p)
		now := clone(ino.live[lo:hi])
		ino.noteWrite(p, ino.durable[lo:hi], now)
		resolvePage(fs.rng, ino.durable[lo:hi], now, pageChoice(fs.rng, resolveMix{keep: 0.5, tear: 0.3}))
		if ino.cleanAs == nil {
			ino.cleanAs = make(map[int][]byte)
		}
		ino.cleanAs[p] = now
	}
}

// flushOne writes one random dirty page of a file in the directory to the
// device, as the kernel's flusher may at any time. Called with fs.mu held.
func (fs *FS) flushOne() {
	type page struct {
		ino *inode
		p   int
	}
	var dirty []page
	for _, ino := range fs.inodes {
		for p := range ino.pages() {
			if ino.dirty(ino.live, p) {
				dirty = append(dirty, page{ino, p})
			}
		}
	}
	if len(dirty) == 0 {
		return
	}
	d := dirty[fs.rng.IntN(len(dirty))]
	d.ino.writeBack(d.p)
	fs.stats.WriteBacks++
}

// Durable returns a copy of what the device holds for name: its durable
// directory entry and the durable image of that file. ok is false when the
// name is not durable.
func (fs *FS) Durable(name string) (data []byte, ok bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ino, ok := fs.durable[name]
	if !ok {
		return nil, false
	}
	return clone(ino.durable), true
}

// DirtyPages counts the pages, over every file, whose live content is not
// what the page cache believes is on the device.
func (fs *FS) DirtyPages() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for _, ino := range fs.inodes {
		n += len(ino.dirtyPages(0, ino.pages()))
	}
	return n
}

// errNotDurable is returned by Corrupt for a name the device does not hold.
func errNotDurable(name string) error {
	return fmt.Errorf("simfs: %s is not on the device: %w", name, iofs.ErrNotExist)
}

// FaultPage makes the page holding offset off of the live file name fault
// when the program next touches it through Bytes, as a page the device
// cannot read back does (SIGBUS): mmapfile.Guard turns that into a
// *mmapfile.FaultError. simfs itself, WriteAt and ReadAt still reach the
// page, and a Crash forgets the fault. The file must have been created
// while Config.Faultable was set.
func (fs *FS) FaultPage(name string, off int64) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ino, ok := fs.live[name]
	switch {
	case !ok:
		return fmt.Errorf("simfs: fault %s: %w", name, iofs.ErrNotExist)
	case ino.fault == nil:
		return fmt.Errorf("simfs: fault %s: not created with Config.Faultable", name)
	case off < 0 || off >= int64(len(ino.live)):
		return fmt.Errorf("simfs: fault %s at %d: outside its %d bytes", name, off, len(ino.live))
	}
	if err := ino.fault.protect(off); err != nil {
		return fmt.Errorf("simfs: fault %s at %d: %w", name, off, err)
	}
	fs.stats.Faults++
	return nil
}
