package hashindex

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/spooldb/spool/mmapfile"
)

// corruptFixture is a flushed, closed 1024-slot index of 100 streams that
// a test edits on disk and reopens.
type corruptFixture struct {
	t    *testing.T
	fs   mmapfile.FS
	dir  string
	file []byte
}

func newCorruptFixture(t *testing.T) *corruptFixture {
	fs, dir := newFS(t)
	ix := mustCreate(t, fs, "index", 1024)
	for n := range 100 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(1, 0, true); err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)
	return &corruptFixture{t: t, fs: fs, dir: dir, file: readFile(t, dir, "index")}
}

// slotOf is the slot index holding stream n.
func (c *corruptFixture) slotOf(n int) uint64 {
	fp := FingerprintString(streamID(n))
	for i := range uint64(1024) {
		if slotFingerprint(c.file[slotOffset(i):]) == fp {
			return i
		}
	}
	c.t.Fatalf("stream %d not in the file", n)
	return 0
}

// emptySlot returns some slot index that is empty.
func (c *corruptFixture) emptySlot() uint64 {
	for i := range uint64(1024) {
		if slotFingerprint(c.file[slotOffset(i):]).IsZero() {
			return i
		}
	}
	c.t.Fatal("no empty slot")
	return 0
}

// open writes b as the index file and opens it.
func (c *corruptFixture) open(b []byte) *Index {
	writeFile(c.t, c.dir, "index", b)
	ix := mustOpen(c.t, c.fs, "index")
	c.t.Cleanup(func() { _ = ix.Close() })
	return ix
}

func (c *corruptFixture) copy() []byte { return append([]byte(nil), c.file...) }

// resealSlot recomputes a slot's checksum after a deliberate edit.
func resealSlot(b []byte) {
	le.PutUint32(b[sCheck:], uint32(xxhash.Sum64(b[:sCheck])))
}

func wantCorruption(t *testing.T, err error, off int64, reason string) {
	t.Helper()
	wantCorruptionIn(t, err, "index", off, reason)
}

func wantCorruptionIn(t *testing.T, err error, file string, off int64, reason string) {
	t.Helper()
	var ce *CorruptionError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *CorruptionError", err)
	}
	if ce.File != file || ce.Offset != off || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("got %+v, want file %s, offset %d, reason containing %q", ce, file, off, reason)
	}
}

func TestLookupDetectsFlippedBit(t *testing.T) {
	c := newCorruptFixture(t)
	const victim = 37
	i := c.slotOf(victim)
	off := slotOffset(i)
	// One bit in each field: fingerprint, tail, version, aux, state,
	// reserved, checksum.
	for _, at := range []int64{0, 9, 17, 30, 39, 40, 42, 46} {
		b := c.copy()
		b[off+at] ^= 0x04
		ix := c.open(b)
		_, _, err := ix.Lookup(FingerprintString(streamID(victim)), matchStream(victim))
		wantCorruption(t, err, off, "checksum")
		// Put reads the same slots and must refuse too.
		err = ix.Put(FingerprintString(streamID(victim)), entryOf(victim, 1), matchStream(victim))
		wantCorruption(t, err, off, "checksum")
		_ = ix.Close()
	}
}

func TestLookupDetectsGarbageInEmptySlot(t *testing.T) {
	c := newCorruptFixture(t)
	i := c.emptySlot()
	b := c.copy()
	b[slotOffset(i)+sTail+2] = 0x55
	ix := c.open(b)
	// A stream whose home is that slot reads it first.
	_, _, err := ix.Lookup(Fingerprint{Hi: i, Lo: 12345}, nil)
	wantCorruption(t, err, slotOffset(i), "zero fingerprint")
}

func TestLookupUnaffectedSlotsStillWork(t *testing.T) {
	// Damage is reported only where a probe reads it: other streams keep
	// working, which lets a caller read around the damage while it rebuilds.
	c := newCorruptFixture(t)
	i := c.slotOf(37)
	b := c.copy()
	b[slotOffset(i)+sTail] ^= 1
	ix := c.open(b)
	for n := range 100 {
		if n == 37 {
			continue
		}
		home := FingerprintString(streamID(n)).Hi & 1023
		if (i-home)&1023 <= (c.slotOf(n)-home)&1023 {
			continue // its probe reads the damaged slot
		}
		checkStream(t, ix, n, 0)
	}
}

func TestValidate(t *testing.T) {
	c := newCorruptFixture(t)
	t.Run("good", func(t *testing.T) {
		if err := c.open(c.copy()).Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("flipped bit", func(t *testing.T) {
		b := c.copy()
		i := c.slotOf(80)
		b[slotOffset(i)+sVersion] ^= 0x80
		ix := c.open(b)
		wantCorruption(t, ix.Validate(), slotOffset(i), "checksum")
		seen := 0
		for _, e := range ix.All() {
			if e.Tail>>versionBits == 80 {
				t.Fatal("All yielded the damaged slot")
			}
			seen++
		}
		if seen != 99 {
			t.Fatalf("All yielded %d entries, want the 99 intact ones", seen)
		}
	})
	t.Run("lowest damaged slot first", func(t *testing.T) {
		b := c.copy()
		i, j := c.slotOf(80), c.slotOf(81)
		b[slotOffset(i)+sAux] ^= 1
		b[slotOffset(j)+sAux] ^= 1
		wantCorruption(t, c.open(b).Validate(), slotOffset(min(i, j)), "checksum")
	})
	t.Run("garbage in empty slot", func(t *testing.T) {
		b := c.copy()
		i := c.emptySlot()
		b[slotOffset(i)+sCheck] = 1
		wantCorruption(t, c.open(b).Validate(), slotOffset(i), "zero fingerprint")
	})
	t.Run("checksummed slot with bad state", func(t *testing.T) {
		b := c.copy()
		i := c.slotOf(80)
		b[slotOffset(i)+sState] = 9
		resealSlot(b[slotOffset(i):])
		ix := c.open(b)
		wantCorruption(t, ix.Validate(), slotOffset(i), "invalid state 9")
		_, _, err := ix.Lookup(FingerprintString(streamID(80)), matchStream(80))
		wantCorruption(t, err, slotOffset(i), "invalid state 9")
	})
	t.Run("checksummed slot with reserved bytes set", func(t *testing.T) {
		b := c.copy()
		i := c.slotOf(80)
		b[slotOffset(i)+sReserved+1] = 1
		resealSlot(b[slotOffset(i):])
		wantCorruption(t, c.open(b).Validate(), slotOffset(i), "reserved")
	})
	t.Run("annotated count wrong", func(t *testing.T) {
		b := c.copy()
		le.PutUint64(b[hAnnotated:], 7)
		reseal(b)
		wantCorruption(t, c.open(b).Validate(), hAnnotated, "annotated count 7 but")
	})
	t.Run("count too high", func(t *testing.T) {
		b := c.copy()
		le.PutUint64(b[hCount:], 101)
		reseal(b)
		wantCorruption(t, c.open(b).Validate(), hCount, "count 101 but 100")
	})
	t.Run("count too low", func(t *testing.T) {
		b := c.copy()
		le.PutUint64(b[hCount:], 3)
		le.PutUint64(b[hAnnotated:], 0) // Open checks annotated <= count
		reseal(b)
		wantCorruption(t, c.open(b).Validate(), hCount, "count 3 but 100")
	})
	t.Run("unreachable entry", func(t *testing.T) {
		// Move stream 5's slot to an empty slot further on with an empty
		// slot between, as a lost page of an earlier insert would.
		b := c.copy()
		from := c.slotOf(5)
		var to uint64
		for k := uint64(2); ; k++ {
			to = (from + k) & 1023
			mid := (from + k - 1) & 1023
			if slotFingerprint(b[slotOffset(to):]).IsZero() && slotFingerprint(b[slotOffset(mid):]).IsZero() {
				break
			}
		}
		copy(b[slotOffset(to):slotOffset(to)+SlotSize], b[slotOffset(from):])
		clear(b[slotOffset(from) : slotOffset(from)+SlotSize])
		ix := c.open(b)
		wantCorruption(t, ix.Validate(), slotOffset(to), "unreachable")
		// Lookup cannot find it: exactly what Validate protects against.
		checkAbsent(t, ix, 5)
	})
	t.Run("entry one past an empty home", func(t *testing.T) {
		// The smallest violation: home slot 3 empty, entry in slot 4.
		fs, dir := newFS(t)
		ix := mustCreate(t, fs, "small", 16)
		mustClose(t, ix)
		b := readFile(t, dir, "small")
		encodeSlot(b[slotOffset(4):], Fingerprint{Hi: 3, Lo: 1}, entryOf(1, 0))
		le.PutUint64(b[hCount:], 1)
		le.PutUint64(b[hAnnotated:], 1)
		reseal(b)
		writeFile(t, dir, "small", b)
		ix = mustOpen(t, fs, "small")
		defer mustClose(t, ix)
		var ce *CorruptionError
		if err := ix.Validate(); !errors.As(err, &ce) || ce.Offset != slotOffset(4) || !strings.Contains(ce.Reason, "unreachable") {
			t.Fatalf("Validate: %v, want unreachable at %d", err, slotOffset(4))
		}
	})
	t.Run("entry wrapped past the end", func(t *testing.T) {
		// Home 15, entry in slot 0 with 15 occupied: valid. Then empty
		// slot 15: invalid.
		fs, dir := newFS(t)
		ix := mustCreate(t, fs, "wrap", 16)
		mustClose(t, ix)
		b := readFile(t, dir, "wrap")
		encodeSlot(b[slotOffset(15):], Fingerprint{Hi: 15, Lo: 1}, entryOf(1, 0))
		encodeSlot(b[slotOffset(0):], Fingerprint{Hi: 31, Lo: 2}, entryOf(2, 0))
		le.PutUint64(b[hCount:], 2)
		le.PutUint64(b[hAnnotated:], 2)
		reseal(b)
		writeFile(t, dir, "wrap", b)
		ix = mustOpen(t, fs, "wrap")
		if err := ix.Validate(); err != nil {
			t.Fatalf("Validate of a valid wrapped cluster: %v", err)
		}
		mustClose(t, ix)
		clear(b[slotOffset(15) : slotOffset(15)+SlotSize])
		le.PutUint64(b[hCount:], 1)
		le.PutUint64(b[hAnnotated:], 1)
		reseal(b)
		writeFile(t, dir, "wrap", b)
		ix = mustOpen(t, fs, "wrap")
		defer mustClose(t, ix)
		wantCorruptionIn(t, ix.Validate(), "wrap", slotOffset(0), "unreachable")
	})
	t.Run("table full", func(t *testing.T) {
		fs, dir := newFS(t)
		ix := mustCreate(t, fs, "full", 16)
		mustClose(t, ix)
		b := readFile(t, dir, "full")
		for i := range uint64(16) {
			encodeSlot(b[slotOffset(i):], Fingerprint{Hi: i, Lo: 1}, entryOf(int(i), 0))
		}
		le.PutUint64(b[hCount:], 16)
		le.PutUint64(b[hAnnotated:], 15) // entryOf(0, 0) has no aux
		reseal(b)
		writeFile(t, dir, "full", b)
		ix = mustOpen(t, fs, "full")
		defer mustClose(t, ix)
		var ce *CorruptionError
		if err := ix.Validate(); !errors.As(err, &ce) || !strings.Contains(ce.Reason, "full") {
			t.Fatalf("Validate of a full table: %v", err)
		}
		// A probe for an absent stream must end rather than spin.
		if _, _, err := ix.Lookup(Fingerprint{Hi: 3, Lo: 2}, nil); !errors.As(err, &ce) {
			t.Fatalf("Lookup in a full table: %v", err)
		}
	})
}

func TestGrowthRefusesCorruptSlot(t *testing.T) {
	// Streams 0..11 fill slots 0..11; stream 12's home is the empty slot 14,
	// so only the growth reads the damaged slot 3.
	defer SetFingerprintFuncForTest(func(id []byte) Fingerprint {
		n := streamNumber(t, id)
		if n == 12 {
			return Fingerprint{Hi: 14, Lo: 1}
		}
		return Fingerprint{Hi: uint64(n), Lo: 1}
	})()
	fs, dir := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	for n := range 12 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(1, 0, true); err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)
	b := readFile(t, dir, "index")
	b[slotOffset(3)+sAux] ^= 2
	writeFile(t, dir, "index", b)

	ix = mustOpen(t, fs, "index")
	defer mustClose(t, ix)
	err := ix.Put(FingerprintString(streamID(12)), entryOf(12, 0), matchStream(12))
	wantCorruption(t, err, slotOffset(3), "checksum")
	if ix.Slots() != 16 {
		t.Fatalf("Slots = %d after a failed growth, want 16", ix.Slots())
	}
	if names, _ := fs.List(); !slices.Equal(names, []string{"index"}) {
		t.Fatalf("directory holds %v after a failed growth", names)
	}
	checkStream(t, ix, 4, 0) // the old table is still in use
}

func TestGrowthRefusesWrongCount(t *testing.T) {
	fs, dir := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	for n := range 11 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(1, 0, true); err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)
	b := readFile(t, dir, "index")
	le.PutUint64(b[hCount:], 12) // one more than the slots hold
	reseal(b)
	writeFile(t, dir, "index", b)

	ix = mustOpen(t, fs, "index")
	defer mustClose(t, ix)
	err := ix.Put(FingerprintString(streamID(11)), entryOf(11, 0), matchStream(11))
	wantCorruption(t, err, hCount, "count 12 but 11")
	if ix.Slots() != 16 {
		t.Fatalf("Slots = %d after a refused growth, want 16", ix.Slots())
	}
}
