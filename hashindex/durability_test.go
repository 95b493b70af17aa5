package hashindex

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"testing"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestFirstPutMarksDirtyBeforeSlots(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 64)
	defer mustClose(t, ix)
	mustPut(t, ix, 1, 0)
	if err := ix.Flush(50, 0, true); err != nil {
		t.Fatal(err)
	}
	ix.mu.RLock()
	before := append([]byte(nil), ix.t.data[HeaderSize:]...)
	ix.mu.RUnlock()
	fs.take()

	mustPut(t, ix, 2, 0) // first Put after a clean flush
	mustPut(t, ix, 3, 0) // later Puts sync nothing
	mustPut(t, ix, 1, 1)
	ev := fs.take()
	if len(ev) != 1 {
		t.Fatalf("%d syncs for three Puts after a clean flush, want 1", len(ev))
	}
	e := ev[0]
	if e.off != 0 || e.n != HeaderSize {
		t.Fatalf("first sync covers [%d, +%d), want the header", e.off, e.n)
	}
	if e.header.clean || e.header.checkpoint != 50 || e.header.slots != 64 {
		t.Fatalf("header being synced: %+v, want unclean at checkpoint 50", e.header)
	}
	if !bytes.Equal(e.slots, before) {
		t.Fatal("slots changed before the dirty flag was durable")
	}
}

func TestFlushSyncsSlotsBeforeHeader(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 64)
	defer mustClose(t, ix)
	for n := range 20 {
		mustPut(t, ix, n, 0)
	}
	fs.take()
	if err := ix.Flush(1234, 112, true); err != nil {
		t.Fatal(err)
	}
	ev := fs.take()
	if len(ev) != 2 {
		t.Fatalf("Flush did %d syncs, want 2", len(ev))
	}
	slots, hdr := ev[0], ev[1]
	if slots.off != HeaderSize || slots.n != 64*SlotSize {
		t.Fatalf("first sync [%d, +%d), want the slot region", slots.off, slots.n)
	}
	if slots.header.clean || slots.header.checkpoint != 0 {
		t.Fatalf("header claimed %+v while the slots were still being synced", slots.header)
	}
	if hdr.off != 0 || hdr.n != HeaderSize {
		t.Fatalf("second sync [%d, +%d), want the header", hdr.off, hdr.n)
	}
	if !hdr.header.clean || hdr.header.checkpoint != 1234 || hdr.header.lastLen != 112 || hdr.header.count != 20 {
		t.Fatalf("header synced as %+v", hdr.header)
	}
}

func TestCreateProtocol(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	want := []string{
		"create index.tmp",
		"sync index.tmp 0 " + itoa(fileSize(16)),
		"rename index.tmp index",
		"syncdir",
	}
	if ops := fs.takeOps(); !slices.Equal(ops, want) {
		t.Fatalf("Create did\n%q\nwant\n%q", ops, want)
	}
}

func TestSyncFailureIsSticky(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	mustPut(t, ix, 1, 0)

	eio := errors.New("EIO")
	fs.mu.Lock()
	fs.syncErr = eio
	fs.mu.Unlock()
	if err := ix.Flush(5, 0, true); !errors.Is(err, eio) {
		t.Fatalf("Flush with failing sync: %v", err)
	}
	fs.mu.Lock()
	fs.syncErr = nil // the device "recovers"; the index must not believe it
	fs.mu.Unlock()
	if err := ix.Flush(5, 0, true); !errors.Is(err, eio) {
		t.Fatalf("Flush after a failed sync: %v, want the sticky error", err)
	}
	if err := ix.Put(FingerprintString(streamID(2)), entryOf(2, 0), nil); !errors.Is(err, eio) {
		t.Fatalf("Put after a failed sync: %v, want the sticky error", err)
	}
	checkStream(t, ix, 1, 0) // reads still work
}

func TestFlushWithoutChangesSyncsOnlyHeader(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 64)
	defer mustClose(t, ix)
	mustPut(t, ix, 1, 0)
	if err := ix.Flush(1, 0, false); err != nil {
		t.Fatal(err)
	}
	fs.take()
	if err := ix.Flush(2, 0, true); err != nil {
		t.Fatal(err)
	}
	want := []string{"sync index 0 4096"}
	if ops := fs.takeOps(); !slices.Equal(ops, want) {
		t.Fatalf("Flush with no slot change did %q, want %q", ops, want)
	}
	if !ix.Clean() || ix.Checkpoint() != 2 {
		t.Fatalf("clean=%v checkpoint=%d", ix.Clean(), ix.Checkpoint())
	}
	// A growth syncs the whole new file; the Put that grew then stores its
	// own slot, which the next Flush must sync.
	for n := 2; n <= 48; n++ { // 48 entries: the most 64 slots hold
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(3, 0, false); err != nil {
		t.Fatal(err)
	}
	fs.take()
	mustPut(t, ix, 49, 0)
	if ix.Slots() != 128 {
		t.Fatalf("Slots = %d, want 128", ix.Slots())
	}
	if err := ix.Flush(4, 0, false); err != nil {
		t.Fatal(err)
	}
	ops := fs.takeOps()
	if got := ops[len(ops)-2:]; !slices.Equal(got, []string{"sync index 4096 " + itoa(128*SlotSize), "sync index 0 4096"}) {
		t.Fatalf("Flush after growth did %q", got)
	}
}
