package hashindex

import "fmt"

// grow replaces the table with one twice its size and returns it. The
// caller holds writeMu, so no slot changes during the copy, and Lookups
// keep reading the old mapping until the swap.
//
// Crash safety comes from building a complete file under a scratch name:
//
//	create name.grow (2x slots), or take the one PrepareGrowth made → copy every entry → header (clean=0)
//	→ sync whole file → rename over name → sync directory
//	→ swap mappings under mu → close the old file
//
// A crash before the rename leaves the old file (and a stale name.grow that
// Create and Open remove); a crash after it leaves the new one. Both are
// marked unclean: Put cleared the flag before calling grow.
func (ix *Index) grow(old *table) (*table, error) {
	n := old.slots * 2
	if n > maxSlots {
		return nil, fmt.Errorf("hashindex: grow %s: %d slots is more than the %d supported", ix.name, n, uint64(maxSlots))
	}
	tmp := ix.name + growSuffix
	ix.prepMu.Lock()
	defer ix.prepMu.Unlock()
	f, err := ix.takePrepared(n)
	if err != nil {
		return nil, err
	}
	wasPrepared := f != nil
	if !wasPrepared {
		if f, err = ix.createScratch(n); err != nil {
			return nil, err
		}
	}
	renamed, ok := false, false
	defer func() {
		// Deferred so that a fault panic unwinding to the caller's Guard
		// does not leak the new mapping.
		if !ok {
			_ = f.Close()
			if !renamed {
				_ = ix.fs.Remove(tmp)
			}
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
	if err := f.Sync(0, f.Size()); err != nil {
		return nil, ix.fail(fmt.Errorf("hashindex: grow %s: %w", ix.name, err))
	}
	if err := ix.fs.Rename(tmp, ix.name); err != nil {
		return nil, ix.fail(fmt.Errorf("hashindex: grow %s: %w", ix.name, err))
	}
	renamed = true

	// From here the name refers to the new file, so the index must use it
	// even if the directory sync fails (that failure is still sticky).
	ix.mu.Lock()
	ix.t = nt
	ix.slots.Store(n)
	ix.mu.Unlock()
	ix.growths.Add(1)
	if wasPrepared {
		ix.growthsPrepared.Add(1)
	}
	ix.slotsDirty = false // every slot of the new file was just synced
	ok = true
	// No reader can still be inside the old mapping: each holds mu shared
	// for its whole probe, and the swap above waited for them. An unmap
	// error would leave only address space behind, so it is not reported.
	_ = old.file.Close()

	if err := ix.fs.SyncDir(); err != nil {
		return nil, ix.fail(fmt.Errorf("hashindex: grow %s: %w", ix.name, err))
	}
	return nt, nil
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
