package hashindex

import "iter"

// allBatch is how many entries All copies out per read-lock acquisition: big
// enough to make the locking cheap, small enough to stay on the stack.
const allBatch = 128

type fpEntry struct {
	fp Fingerprint
	e  Entry
}

// All yields the fingerprint and entry of every non-empty slot, in slot
// order, for Verify and for checking a rebuild. Slots that fail their check
// are skipped; Validate reports them.
//
// yield runs with no lock held, so it may call Lookup. Callers must not Put
// while iterating: the iteration stops early if the table is replaced by a
// growth or the index is closed.
func (ix *Index) All() iter.Seq2[Fingerprint, Entry] {
	return func(yield func(Fingerprint, Entry) bool) {
		var buf [allBatch]fpEntry
		var t0 *table
		for next := uint64(0); ; {
			n, t, after := ix.readBatch(t0, next, buf[:])
			if t == nil {
				return
			}
			t0, next = t, after
			for _, x := range buf[:n] {
				if !yield(x.fp, x.e) {
					return
				}
			}
			if next >= t.slots {
				return
			}
		}
	}
}

// readBatch copies valid entries from slot next on into buf, under the read
// lock, and returns how many it copied, the table it read and the slot to
// continue from. It returns a nil table when the index is closed or the
// table is no longer t0 (when t0 is set).
func (ix *Index) readBatch(t0 *table, next uint64, buf []fpEntry) (int, *table, uint64) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := ix.t
	if t == nil || (t0 != nil && t != t0) {
		return 0, nil, 0
	}
	n := 0
	for ; next < t.slots && n < len(buf); next++ {
		s := t.slot(next)
		if empty, reason := checkSlot(s); empty || reason != "" {
			continue
		}
		buf[n] = fpEntry{slotFingerprint(s), slotEntry(s)}
		n++
	}
	return n, t, next
}
