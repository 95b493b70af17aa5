package hashindex

import "fmt"

// probe walks fp's probe sequence in t: from the home bucket fp.Hi&mask,
// one slot at a time, wrapping at the end. It returns the slot holding the
// stream (found) or else the first empty slot, which is where the stream
// would be inserted. Since entries are never removed, an empty slot ends
// every probe sequence that could hold the stream.
//
// The caller holds mu (shared or exclusive) or writeMu.
func (ix *Index) probe(t *table, fp Fingerprint, match MatchFunc) (uint64, bool, error) {
	i := fp.Hi & t.mask
	for range t.slots {
		s := t.slot(i)
		empty, reason := checkSlot(s)
		if reason != "" {
			return 0, false, ix.corrupt(slotOffset(i), reason)
		}
		if empty {
			return i, false, nil
		}
		if slotFingerprint(s) == fp {
			if match == nil {
				return i, true, nil
			}
			ok, err := match(slotEntry(s))
			if err != nil {
				return 0, false, err
			}
			if ok {
				return i, true, nil
			}
		}
		i = (i + 1) & t.mask
	}
	// Put keeps a quarter of the slots empty, so only a count that lies
	// about the slots gets here.
	return 0, false, ix.corrupt(hCount, "no empty slot: table is full")
}

// firstFree returns the first empty slot of fp's probe sequence in a table
// this goroutine is filling and nobody else can see yet (a growth), so the
// slots need no checking and a free one is known to exist.
func (t *table) firstFree(fp Fingerprint) uint64 {
	i := fp.Hi & t.mask
	for !slotFingerprint(t.slot(i)).IsZero() {
		i = (i + 1) & t.mask
	}
	return i
}

// growthNeeded reports whether holding count streams in slots slots would
// exceed the 0.75 load factor.
func growthNeeded(count, slots uint64) bool { return 4*count > 3*slots }

// Lookup finds the stream whose fingerprint is fp and for which match
// returns true. It returns the stream's entry and true, or false if the
// index does not hold the stream. Every slot the probe reads is checked; a
// damaged one stops the lookup with a *CorruptionError.
//
// Lookup may run concurrently with other Lookups and with one goroutine
// calling Put or Flush. match runs under the index's read lock: it must not
// call back into the index.
func (ix *Index) Lookup(fp Fingerprint, match MatchFunc) (Entry, bool, error) {
	e, _, found, err := ix.LookupSlot(fp, match)
	return e, found, err
}

// Slot names the slot a LookupSlot found a stream in, so that the Put of
// that stream's next entry can go straight there (see PutSlot). The zero
// Slot names none.
type Slot struct {
	t *table
	i uint64
}

// LookupSlot is Lookup that also returns the slot holding the stream.
func (ix *Index) LookupSlot(fp Fingerprint, match MatchFunc) (Entry, Slot, bool, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := ix.t
	if t == nil {
		return Entry{}, Slot{}, false, ix.closedErr()
	}
	i, found, err := ix.probe(t, fp, match)
	if err != nil || !found {
		return Entry{}, Slot{}, false, err
	}
	return slotEntry(t.slot(i)), Slot{t: t, i: i}, true, nil
}

// Put stores e as the entry of the stream with fingerprint fp: it
// overwrites the slot for which match returns true, or inserts a new slot
// (growing the table first when the new count would exceed 0.75 of the
// slots). The first Put after Open, Create or Flush(clean=true) first
// clears the header's clean flag durably, so that a crash after any slot
// changed is seen as unclean.
//
// Only one goroutine may call Put and Flush; Lookups may run meanwhile.
// match runs without the read lock, so Lookups are not blocked by it.
func (ix *Index) Put(fp Fingerprint, e Entry, match MatchFunc) error {
	return ix.PutSlot(Slot{}, fp, e, match)
}

// PutSlot is Put for a stream that LookupSlot found in slot at: while the
// table is still the one that lookup probed, it overwrites that slot
// without probing again or calling match. Entries never move within a
// table (none is ever removed, and a growth builds a new table), so the
// slot still holds the stream the lookup matched. at must come from a
// LookupSlot of this same stream: the slot's fingerprint and checksum are
// checked, but a slot of another stream with an equal fingerprint (a
// 128-bit collision) cannot be told apart without match. Otherwise, and
// for the zero Slot, it is Put.
func (ix *Index) PutSlot(at Slot, fp Fingerprint, e Entry, match MatchFunc) error {
	if fp.IsZero() {
		return fmt.Errorf("hashindex: put into %s: the zero fingerprint marks empty slots", ix.name)
	}
	if !e.State.valid() {
		return fmt.Errorf("hashindex: put into %s: invalid state %d", ix.name, e.State)
	}
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	if err := ix.growthFailed(); err != nil {
		return err
	}
	t, err := ix.writable()
	if err != nil {
		return err
	}
	if err := ix.markDirty(t); err != nil {
		return err
	}
	if at.t == t && at.i < t.slots {
		b := t.slot(at.i)
		empty, reason := checkSlot(b)
		if reason != "" {
			return ix.corrupt(slotOffset(at.i), reason)
		}
		if !empty && slotFingerprint(b) == fp {
			ix.store(t, at.i, fp, e, false)
			return nil
		}
	}
	i, found, err := ix.probe(t, fp, match)
	if err != nil {
		return err
	}
	if !found && growthNeeded(ix.count.Load()+1, t.slots) {
		if t, err = ix.grow(t); err != nil {
			return err
		}
		// The stream is in neither table (probe said so), so the new
		// table needs no match calls: the first free slot is its place.
		i = t.firstFree(fp)
	}
	ix.store(t, i, fp, e, !found)
	return nil
}

// store writes slot i under the exclusive lock, so no Lookup sees it half
// written, and keeps the header count in step. Keeping the mapped header
// exact on every insert means that after a process crash (the page cache
// survives) the file is still self-consistent, only marked unclean.
func (ix *Index) store(t *table, i uint64, fp Fingerprint, e Entry, inserted bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	b := t.slot(i)
	was := !inserted && slotEntry(b).Aux != 0
	encodeSlot(b, fp, e)
	ix.slotsDirty = true
	header := inserted
	if inserted {
		ix.count.Add(1)
	}
	if now := e.Aux != 0; now != was {
		if now {
			ix.annotated.Add(1)
		} else {
			ix.annotated.Add(^uint64(0))
		}
		header = true
	}
	if header {
		ix.writeHeader(t)
	}
}
