package hashindex

import (
	"fmt"
	"slices"

	"github.com/spooldb/spool/mmapfile"
)

// Growth ahead of need.
//
// A growth runs while the writer waits (Put holds writeMu), and most of it
// used to be the creation of the new file: reserving its blocks and
// faulting in its pages cost more than copying the entries and syncing
// them (measured here, 2 Mi → 4 Mi slots: ~300-500 ms of a ~800 ms stall).
// PrepareGrowth does that part beforehand, on the caller's goroutine, once
// the table is half full (GrowthAhead): the growth then only copies into
// the prepared file, and syncs and renames it in the background (see
// grow).
//
// The prepared file is the growth's scratch file (name.grow), all zeros
// and not referenced by anything: a crash leaves it behind for Create or
// Open to remove, like a growth cut short. It takes its place on disk
// until the growth, which comes at 0.75 load, or until Close removes it.

// GrowthAhead reports whether the next growth is near (the table is at
// least half full) and no file is prepared for it yet, nor did a
// preparation for it fail: a caller then runs PrepareGrowth in the
// background. It takes no lock.
func (ix *Index) GrowthAhead() bool {
	slots := ix.slots.Load()
	next := 2 * slots
	return slots > 0 && 2*ix.count.Load() >= slots && next <= maxSlots &&
		ix.preparedSlots.Load() != next && ix.prepFailedSlots.Load() != next
}

// PrepareGrowth creates and faults in the file the next growth will copy
// the table into, unless one is prepared already. It runs concurrently
// with Lookup, Put and Flush, and blocks only a growth that starts
// meanwhile (which then waits for the file rather than make its own). A
// failure costs nothing but the time: the growth creates its file itself,
// as it would have without preparation.
func (ix *Index) PrepareGrowth() error {
	ix.prepMu.Lock()
	defer ix.prepMu.Unlock()
	if ix.prepClosed {
		return ix.closedErr()
	}
	if tail := ix.tail.Load(); tail != nil {
		<-tail.done // the last growth's file still has the scratch name
	}
	n := 2 * ix.slots.Load()
	if n > maxSlots {
		return nil
	}
	if ix.prepared != nil {
		return nil // for n slots: see takePrepared
	}
	f, err := ix.createScratch(n)
	if err != nil {
		// Not again for this size (a full disk would fail every append's
		// retry): the growth makes its file itself.
		ix.prepFailedSlots.Store(n)
		return err
	}
	// Fault the pages in for writing now: the copy then stores without a
	// page fault per page (a few µs each, here; at 4 Mi slots the copy
	// takes ~50 ms instead of ~190 ms). The cost: the pages are dirty
	// from now on, so a growth that comes more than the kernel's
	// write-back delay (~30 s) later finds the empty file written once
	// already, and the file goes to the device twice.
	f.Advise(HeaderSize, f.Size()-HeaderSize, mmapfile.AdviseWillWrite)
	ix.prepared = f
	ix.preparedSlots.Store(n)
	return nil
}

// createScratch creates the growth's scratch file for a table of n slots,
// removing a stale one first. The caller holds prepMu.
func (ix *Index) createScratch(n uint64) (mmapfile.File, error) {
	tmp := ix.name + growSuffix
	names, err := ix.fs.List()
	if err != nil {
		return nil, fmt.Errorf("hashindex: grow %s: %w", ix.name, err)
	}
	if slices.Contains(names, tmp) {
		if err := ix.fs.Remove(tmp); err != nil {
			return nil, fmt.Errorf("hashindex: grow %s: remove stale %s: %w", ix.name, tmp, err)
		}
	}
	f, err := ix.fs.Create(tmp, fileSize(n))
	if err != nil {
		return nil, fmt.Errorf("hashindex: grow %s: %w", ix.name, err)
	}
	return f, nil
}

// takePrepared returns the prepared file, if any, leaving none prepared.
// It is always for twice the current table's slots: the slot count changes
// only in a growth, which takes the file first, under prepMu, the lock
// PrepareGrowth holds. The caller holds prepMu.
func (ix *Index) takePrepared() mmapfile.File {
	f := ix.prepared
	ix.prepared = nil
	ix.preparedSlots.Store(0)
	return f
}

// dropPreparedLocked unmaps and removes the prepared file. The caller
// holds prepMu.
func (ix *Index) dropPreparedLocked() error {
	f := ix.prepared
	ix.prepared = nil
	ix.preparedSlots.Store(0)
	_ = f.Close() // an unmap error leaves only address space behind
	if err := ix.fs.Remove(f.Name()); err != nil {
		return fmt.Errorf("hashindex: remove prepared %s: %w", f.Name(), err)
	}
	return nil
}

// Growths returns how many growths this Index made, and how many of them
// copied into a file PrepareGrowth had made.
func (ix *Index) Growths() (total, prepared uint64) {
	return ix.growths.Load(), ix.growthsPrepared.Load()
}
