package hashindex

import (
	"fmt"

	"github.com/spooldb/spool/mmapfile"
)

// grow replaces the table with one twice its size and returns it. The
// caller holds writeMu, so no slot changes during the copy, and Lookups
// keep reading the old mapping until the swap.
//
// Crash safety comes from building a complete file under a scratch name
// and renaming it over the index only once it is durable:
//
//	create name.grow (2x slots), or take the one PrepareGrowth made
//	→ copy every entry → header (clean=0) → swap mappings under mu
//	→ close the old file → [background] sync whole file → rename over
//	name → sync directory
//
// The steps after the swap run on their own goroutine (growthTail), so
// that Puts resume after the copy: they go to the new table, whose file
// holds the old checkpoint and is marked unclean (Put cleared the flag
// before calling grow). Until the rename is durable the index on disk is
// the old file, unclean at that same checkpoint, so a crash meanwhile
// replays the log from there, Puts made since included. Flush, Close,
// PrepareGrowth and the next growth wait for the tail; a failure in it is
// sticky like any failed sync.
//
// A crash before the rename leaves the old file (and a stale name.grow
// that Create and Open remove); a crash after it leaves the new one.
func (ix *Index) grow(old *table) (*table, error) {
	if err := ix.waitGrowth(); err != nil {
		return nil, err
	}
	n := old.slots * 2
	if n > maxSlots {
		return nil, fmt.Errorf("%w: grow %s: its %d streams are the most this platform holds (%d slots)", ErrFull, ix.name, ix.count.Load(), old.slots)
	}
	tmp := ix.name + growSuffix
	ix.prepMu.Lock()
	defer ix.prepMu.Unlock()
	f := ix.takePrepared()
	wasPrepared := f != nil
	if !wasPrepared {
		var err error
		if f, err = ix.createScratch(n); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		// Deferred so that a fault panic unwinding to the caller's Guard
		// does not leak the new mapping.
		if !ok {
			_ = f.Close()
			_ = ix.fs.Remove(tmp)
		}
	}()

	nt := newTable(f, n)
	if err := ix.copyInto(old, nt); err != nil {
		return nil, err
	}
	encodeHeader(nt.data, header{
		slots:      n,
		count:      ix.count.Load(),
		annotated:  ix.annotated.Load(),
		checkpoint: ix.checkpoint.Load(),
		lastLen:    ix.lastLen.Load(),
		clean:      false,
	})
	ix.mu.Lock()
	ix.t = nt
	ix.slots.Store(n)
	ix.mu.Unlock()
	ok = true
	ix.growths.Add(1)
	if wasPrepared {
		ix.growthsPrepared.Add(1)
	}
	// The tail syncs every slot, but Puts from now on may change slots
	// during that sync: the next Flush syncs them all again.
	ix.slotsDirty = true
	// No reader can still be inside the old mapping: each holds mu shared
	// for its whole probe, and the swap above waited for them. An unmap
	// error would leave only address space behind, so it is not reported.
	_ = old.file.Close()

	tail := &growthTail{done: make(chan struct{})}
	ix.tail.Store(tail)
	go ix.finishGrowth(tail, f, tmp)
	return nt, nil
}

// growthTail is the background part of a growth: the new file's sync,
// its rename over the index and the directory sync.
type growthTail struct {
	done chan struct{} // closed when the tail ended
	err  error         // its failure, set before done is closed
}

// finishGrowth runs the tail of a growth whose new table, in file f named
// tmp, is in use already. It touches no mapped byte (msync does not fault).
func (ix *Index) finishGrowth(tail *growthTail, f mmapfile.File, tmp string) {
	defer close(tail.done)
	if err := f.Sync(0, f.Size()); err != nil {
		tail.err = fmt.Errorf("hashindex: grow %s: %w", ix.name, err)
		return
	}
	if err := ix.fs.Rename(tmp, ix.name); err != nil {
		tail.err = fmt.Errorf("hashindex: grow %s: %w", ix.name, err)
		return
	}
	if err := ix.fs.SyncDir(); err != nil {
		tail.err = fmt.Errorf("hashindex: grow %s: %w", ix.name, err)
	}
}

// waitGrowth waits for the tail of the last growth, if one is running,
// and makes its failure sticky. The caller holds writeMu.
func (ix *Index) waitGrowth() error {
	tail := ix.tail.Load()
	if tail == nil {
		return nil
	}
	<-tail.done
	ix.tail.Store(nil)
	if tail.err != nil {
		return ix.fail(tail.err)
	}
	return nil
}

// growthFailed makes a failed growth tail sticky without waiting for one
// still running. The caller holds writeMu.
func (ix *Index) growthFailed() error {
	tail := ix.tail.Load()
	if tail == nil {
		return nil
	}
	select {
	case <-tail.done:
		return ix.waitGrowth()
	default:
		return nil
	}
}

// copyInto reinserts every entry of old into the empty table nt by
// fingerprint alone: slots are copied whole (the slot checksum does not
// depend on the position), and streams sharing a fingerprint simply take
// consecutive free slots, as they did before. A damaged slot or a count
// that disagrees with the slots aborts the growth rather than carry the
// damage into the new file.
//
// The copy starts just past an empty slot and goes once around, so each
// cluster is read in probe order even when it wraps past the last slot:
// entries sharing a home bucket (or a whole fingerprint) then keep their
// relative order, and a probe meets them in the same order after growth.
func (ix *Index) copyInto(old, nt *table) error {
	start := uint64(0)
	for i := range old.slots {
		if slotFingerprint(old.slot(i)).IsZero() {
			start = i
			break
		}
	}
	var copied uint64
	for k := range old.slots {
		i := (start + k) & old.mask
		s := old.slot(i)
		empty, reason := checkSlot(s)
		if reason != "" {
			return ix.corrupt(slotOffset(i), reason)
		}
		if empty {
			continue
		}
		copy(nt.slot(nt.firstFree(slotFingerprint(s))), s)
		copied++
	}
	if c := ix.count.Load(); copied != c {
		return ix.corrupt(hCount, fmt.Sprintf("header count %d but %d slots in use", c, copied))
	}
	return nil
}
