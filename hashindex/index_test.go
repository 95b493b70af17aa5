package hashindex

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

func TestPutLookupOverwriteReopen(t *testing.T) {
	fs, _ := newFS(t)
	const streams = 3000
	ix := mustCreate(t, fs, "index", 1<<13) // no growth: this test is about the basic paths
	for n := range streams {
		mustPut(t, ix, n, 0)
	}
	if ix.Len() != streams {
		t.Fatalf("Len = %d, want %d", ix.Len(), streams)
	}
	for n := range streams {
		checkStream(t, ix, n, 0)
	}
	// Overwrite every other stream; the count must not change.
	for n := 0; n < streams; n += 2 {
		mustPut(t, ix, n, int64(n%7+1))
	}
	if ix.Len() != streams {
		t.Fatalf("Len after overwrites = %d, want %d", ix.Len(), streams)
	}
	for n := streams; n < streams+100; n++ {
		checkAbsent(t, ix, n)
	}
	if err := ix.Flush(12345, 216, true); err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)

	ix = mustOpen(t, fs, "index")
	defer mustClose(t, ix)
	if !ix.Clean() || ix.Checkpoint() != 12345 || ix.CheckpointRecordLen() != 216 || ix.Len() != streams || ix.Slots() != 1<<13 {
		t.Fatalf("after reopen: clean=%v checkpoint=%d (record of %d bytes) len=%d slots=%d",
			ix.Clean(), ix.Checkpoint(), ix.CheckpointRecordLen(), ix.Len(), ix.Slots())
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
	for n := range streams {
		v := int64(0)
		if n%2 == 0 {
			v = int64(n%7 + 1)
		}
		checkStream(t, ix, n, v)
	}
	seen := 0
	for fp, e := range ix.All() {
		n := int(e.Tail >> versionBits)
		if fp != FingerprintString(streamID(n)) {
			t.Fatalf("All: entry %+v under fingerprint %v, want stream %d's", e, fp, n)
		}
		seen++
	}
	if seen != streams {
		t.Fatalf("All yielded %d entries, want %d", seen, streams)
	}
}

func TestStatesAndFields(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	fp := FingerprintString("s")
	for _, e := range []Entry{
		{Tail: 1, Version: 0, Aux: 0, State: Live},
		{Tail: 1<<63 + 5, Version: -1, Aux: ^uint64(0), State: Deleted},
		{Tail: 99, Version: 1<<62 + 3, Aux: 7, State: Tombstoned},
	} {
		if err := ix.Put(fp, e, nil); err != nil {
			t.Fatal(err)
		}
		got, ok, err := ix.Lookup(fp, nil)
		if err != nil || !ok || got != e {
			t.Fatalf("Lookup = %+v %v %v, want %+v", got, ok, err, e)
		}
	}
	if ix.Len() != 1 {
		t.Fatalf("Len = %d, want 1", ix.Len())
	}
}

func TestPutRejectsBadInput(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	if err := ix.Put(Fingerprint{}, Entry{State: Live}, nil); err == nil {
		t.Fatal("Put with the zero fingerprint succeeded")
	}
	for _, s := range []State{0, 4, 255} {
		if err := ix.Put(Fingerprint{Hi: 1}, Entry{State: s}, nil); err == nil {
			t.Fatalf("Put with state %d succeeded", s)
		}
	}
	if ix.Len() != 0 || !ix.Clean() {
		t.Fatalf("rejected Puts changed the index: len=%d clean=%v", ix.Len(), ix.Clean())
	}
}

func TestMatchErrorIsReturned(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	mustPut(t, ix, 1, 0)
	boom := errors.New("boom")
	fail := func(Entry) (bool, error) { return false, boom }
	if _, _, err := ix.Lookup(FingerprintString(streamID(1)), fail); !errors.Is(err, boom) {
		t.Fatalf("Lookup err = %v, want boom", err)
	}
	if err := ix.Put(FingerprintString(streamID(1)), entryOf(1, 1), fail); !errors.Is(err, boom) {
		t.Fatalf("Put err = %v, want boom", err)
	}
	checkStream(t, ix, 1, 0)
}

func TestCleanFlag(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	if !ix.Clean() || ix.Checkpoint() != 0 {
		t.Fatalf("new index: clean=%v checkpoint=%d", ix.Clean(), ix.Checkpoint())
	}
	mustPut(t, ix, 1, 0)
	if ix.Clean() {
		t.Fatal("Clean after Put")
	}
	mustClose(t, ix) // no Flush: an unclean shutdown

	ix = mustOpen(t, fs, "index")
	if ix.Clean() {
		t.Fatal("Clean after reopening an index closed without a clean flush")
	}
	checkStream(t, ix, 1, 0)
	if err := ix.Flush(10, 0, false); err != nil {
		t.Fatal(err)
	}
	if ix.Clean() || ix.Checkpoint() != 10 {
		t.Fatalf("after Flush(10,false): clean=%v checkpoint=%d", ix.Clean(), ix.Checkpoint())
	}
	mustClose(t, ix)

	ix = mustOpen(t, fs, "index")
	if ix.Clean() || ix.Checkpoint() != 10 {
		t.Fatalf("reopened after Flush(10,false): clean=%v checkpoint=%d", ix.Clean(), ix.Checkpoint())
	}
	if err := ix.Flush(20, 0, true); err != nil {
		t.Fatal(err)
	}
	if !ix.Clean() {
		t.Fatal("not Clean after Flush(clean=true)")
	}
	mustPut(t, ix, 2, 0) // dirties again
	if ix.Clean() {
		t.Fatal("Clean after a Put following a clean flush")
	}
	mustClose(t, ix)

	ix = mustOpen(t, fs, "index")
	defer mustClose(t, ix)
	if ix.Clean() || ix.Checkpoint() != 20 {
		t.Fatalf("reopened: clean=%v checkpoint=%d, want false, 20", ix.Clean(), ix.Checkpoint())
	}
	// The process did not crash, so the mapped header and slots are all
	// there and consistent.
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
	checkStream(t, ix, 2, 0)
}

func TestClosed(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	mustPut(t, ix, 1, 0)
	mustClose(t, ix)
	if err := ix.Close(); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := ix.Lookup(FingerprintString(streamID(1)), nil); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("Lookup after Close: %v", err)
	}
	if err := ix.Put(FingerprintString(streamID(1)), entryOf(1, 1), nil); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if err := ix.Flush(1, 0, true); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if err := ix.Validate(); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("Validate after Close: %v", err)
	}
	if ix.Slots() != 0 {
		t.Fatalf("Slots after Close = %d", ix.Slots())
	}
	for range ix.All() {
		t.Fatal("All yielded after Close")
	}
}

func TestCreateRoundsSlots(t *testing.T) {
	fs, _ := newFS(t)
	for _, c := range []struct{ ask, want uint64 }{{0, 16}, {1, 16}, {16, 16}, {17, 32}, {1000, 1024}, {1024, 1024}} {
		ix := mustCreate(t, fs, "index", c.ask)
		if ix.Slots() != c.want {
			t.Errorf("Create(%d): %d slots, want %d", c.ask, ix.Slots(), c.want)
		}
		mustClose(t, ix)
	}
	if _, err := Create(fs, "index", 1<<62); err == nil {
		t.Fatal("Create with 2^62 slots succeeded")
	}
}

func TestCreateReplacesAndCleansScratch(t *testing.T) {
	fs, dir := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	mustPut(t, ix, 1, 0)
	mustClose(t, ix)
	// Leftovers of a crashed Create and a crashed growth.
	writeFile(t, dir, "index.tmp", []byte("half a file"))
	writeFile(t, dir, "index.grow", []byte("half a file"))

	ix = mustOpen(t, fs, "index")
	checkStream(t, ix, 1, 0)
	mustClose(t, ix)
	names, err := fs.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"index"}) {
		t.Fatalf("after Open the directory holds %v, want only the index", names)
	}

	writeFile(t, dir, "index.tmp", []byte("half a file"))
	writeFile(t, dir, "index.grow", []byte("half a file"))
	ix = mustCreate(t, fs, "index", 16) // replaces the old index
	defer mustClose(t, ix)
	checkAbsent(t, ix, 1)
	if names, _ := fs.List(); !slices.Equal(names, []string{"index"}) {
		t.Fatalf("after Create the directory holds %v, want only the index", names)
	}
}

func TestOpenMissing(t *testing.T) {
	fs, _ := newFS(t)
	_, err := Open(fs, "index")
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Fatalf("Open of a missing file: %v", err)
	}
}

func TestAllStopsWhenTableIsReplaced(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 512)
	defer mustClose(t, ix)
	const full = 384 // the most 512 slots hold
	for n := range full {
		mustPut(t, ix, n, 0)
	}
	seen := 0
	for range ix.All() {
		if seen == 0 {
			mustPut(t, ix, full, 0) // grows: not allowed, but must not break
		}
		seen++
	}
	// The first batch (128 slots) was copied out before the growth.
	if seen == 0 || seen >= full {
		t.Fatalf("All yielded %d entries across a growth, want it to stop after the first batch", seen)
	}
}

// TestAnnotatedCount checks that the header counts the entries with a
// nonzero Aux through inserts, overwrites in both directions, a growth and
// a reopen.
func TestAnnotatedCount(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", MinSlots)
	put := func(n int, aux uint64) {
		t.Helper()
		e := Entry{Tail: tailOf(n, 0), Version: 0, Aux: aux, State: Live}
		if err := ix.Put(FingerprintString(streamID(n)), e, matchStream(n)); err != nil {
			t.Fatal(err)
		}
	}
	want := func(n int) {
		t.Helper()
		if got := ix.Annotated(); got != n {
			t.Fatalf("Annotated() = %d, want %d", got, n)
		}
		if err := ix.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	put(1, 0)
	put(2, 5)
	want(1)
	put(1, 9) // 0 → nonzero
	want(2)
	put(1, 10) // nonzero → nonzero
	want(2)
	put(2, 0) // nonzero → 0
	want(1)
	for n := 3; n < 40; n++ { // grows the table twice
		put(n, uint64(n%2))
	}
	want(1 + 19)
	if err := ix.Flush(0, 0, true); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = mustOpen(t, fs, "index")
	defer ix.Close()
	want(20)
}
