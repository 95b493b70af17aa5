package hashindex

import "fmt"

// Validate reads every slot and returns a *CorruptionError for the first
// problem found, checked in this order:
//
//  1. each slot is either all zero or carries a valid checksum, state and
//     zero reserved bytes (lowest offset reported first);
//  2. the count equals the number of non-empty slots, and at least one
//     slot is empty (otherwise probes for absent streams never end);
//  3. the probe invariant: every entry is reachable from its home bucket
//     without crossing an empty slot, so Lookup finds it.
//
// Recovery runs it on an index it is about to trust. It holds the read lock
// for the whole scan, so a concurrent Put waits for it.
func (ix *Index) Validate() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := ix.t
	if t == nil {
		return ix.closedErr()
	}

	var used, annotated uint64
	firstEmpty, haveEmpty := uint64(0), false
	for i := range t.slots {
		empty, reason := checkSlot(t.slot(i))
		switch {
		case reason != "":
			return ix.corrupt(slotOffset(i), reason)
		case !empty:
			used++
			if slotEntry(t.slot(i)).Aux != 0 {
				annotated++
			}
		case !haveEmpty:
			firstEmpty, haveEmpty = i, true
		}
	}
	if c := ix.count.Load(); used != c {
		return ix.corrupt(hCount, fmt.Sprintf("header count %d but %d slots in use", c, used))
	}
	if a := ix.annotated.Load(); annotated != a {
		return ix.corrupt(hAnnotated, fmt.Sprintf("header annotated count %d but %d slots have an aux word", a, annotated))
	}
	if !haveEmpty {
		return ix.corrupt(hCount, "no empty slot: table is full")
	}

	// Walk once around the table starting at an empty slot, so that a
	// cluster wrapping past the last slot is seen from its beginning. run is
	// the length of the cluster of occupied slots ending at i; an entry
	// dist slots past its home is reachable iff all of home..i are
	// occupied, that is dist < run.
	var run uint64
	for k := range t.slots {
		i := (firstEmpty + k) & t.mask
		fp := slotFingerprint(t.slot(i))
		if fp.IsZero() {
			run = 0
			continue
		}
		run++
		if dist := (i - fp.Hi) & t.mask; dist >= run {
			return ix.corrupt(slotOffset(i), fmt.Sprintf(
				"entry %d slots past its home bucket %d crosses an empty slot (unreachable)", dist, fp.Hi&t.mask))
		}
	}
	return nil
}
