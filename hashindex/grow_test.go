package hashindex

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGrowthKeepsEntries(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	const streams = 12000
	for n := range streams {
		mustPut(t, ix, n, int64(n%5))
		if n%997 == 0 { // spot-check the early ones across several growths
			for m := 0; m <= n; m += 331 {
				checkStream(t, ix, m, int64(m%5))
			}
		}
	}
	// 12000 streams at load <= 0.75 need 16384 slots.
	if ix.Slots() != 16384 || ix.Len() != streams {
		t.Fatalf("Slots=%d Len=%d, want 16384 and %d", ix.Slots(), ix.Len(), streams)
	}
	for n := range streams {
		checkStream(t, ix, n, int64(n%5))
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(777, 0, true); err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)
	if names, _ := fs.List(); !slices.Equal(names, []string{"index"}) {
		t.Fatalf("directory holds %v after growths, want only the index", names)
	}

	ix = mustOpen(t, fs, "index")
	defer mustClose(t, ix)
	if ix.Slots() != 16384 || ix.Len() != streams || ix.Checkpoint() != 777 || !ix.Clean() {
		t.Fatalf("reopened: slots=%d len=%d checkpoint=%d clean=%v", ix.Slots(), ix.Len(), ix.Checkpoint(), ix.Clean())
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
	for n := range streams {
		checkStream(t, ix, n, int64(n%5))
	}
}

func TestGrowthUnderConcurrentLookups(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)

	const streams = 20000
	var acked atomic.Int64 // streams [0, acked) are in the index
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	report := func(s string) {
		select {
		case errs <- s:
		default:
		}
		done.Store(true)
	}
	for r := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			lookups := 0
			for !done.Load() || lookups < 1000 {
				n := int(acked.Load())
				if n == 0 {
					continue
				}
				k := rng.IntN(n)
				switch r % 4 {
				case 1:
					k = n - 1 - rng.IntN(min(n, 16)) // the newest ones
				case 2:
					// Not acked yet: the probe runs to the empty slot the
					// writer is about to fill, so a torn store would show.
					k = n + rng.IntN(4)
				}
				e, ok, err := ix.Lookup(FingerprintString(streamID(k)), matchStream(k))
				switch {
				case err != nil:
					report("Lookup: " + err.Error())
				case !ok && k < n:
					report("acked stream " + streamID(k) + " not found")
				case ok && (e.Tail>>versionBits != uint64(k) || e.State != Live || e.Version < 0 || e.Version > 3 ||
					e.Tail != tailOf(k, e.Version) || e.Aux != uint64(k)*3):
					report("stream " + streamID(k) + " has a wrong entry")
				}
				if ix.Len() < n {
					report("Len below the acked count")
				}
				lookups++
			}
		})
	}
	for n := range streams {
		if err := ix.Put(FingerprintString(streamID(n)), entryOf(n, 0), matchStream(n)); err != nil {
			report("Put: " + err.Error())
			break
		}
		acked.Store(int64(n + 1))
		if n%3 == 0 { // overwrite an older stream in place
			k := n / 3
			if err := ix.Put(FingerprintString(streamID(k)), entryOf(k, int64(n%4)), matchStream(k)); err != nil {
				report("Put: " + err.Error())
				break
			}
		}
		if n%4096 == 0 {
			if err := ix.Flush(uint64(n), 0, false); err != nil {
				report("Flush: " + err.Error())
				break
			}
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if ix.Slots() < 32768 {
		t.Fatalf("Slots = %d: the table did not grow as expected", ix.Slots())
	}
}

func TestGrowthProtocol(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	for n := range 12 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(99, 0, false); err != nil {
		t.Fatal(err)
	}
	fs.take()
	mustPut(t, ix, 12, 0) // the 13th stream does not fit 16 slots
	if ix.Slots() != 32 {
		t.Fatalf("Slots = %d after the growth's Put, want 32", ix.Slots())
	}
	waitTail(t, ix)

	ops := fs.takeOps()
	want := []string{
		"create index.grow",
		"sync index.grow 0 " + itoa(fileSize(32)),
		"rename index.grow index",
		"syncdir",
	}
	if !slices.Equal(ops, want) {
		t.Fatalf("growth did\n%q\nwant\n%q", ops, want)
	}
	if ix.Slots() != 32 || ix.Len() != 13 || ix.Checkpoint() != 99 || ix.Clean() {
		t.Fatalf("after growth: slots=%d len=%d checkpoint=%d clean=%v", ix.Slots(), ix.Len(), ix.Checkpoint(), ix.Clean())
	}
}

func TestGrowthSyncHeaderContents(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	for n := range 12 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(99, 0, false); err != nil {
		t.Fatal(err)
	}
	fs.take()
	mustPut(t, ix, 12, 0)
	waitTail(t, ix)
	ev := fs.take()
	if len(ev) != 1 {
		t.Fatalf("%d syncs during growth, want 1", len(ev))
	}
	// The new file is complete before it is renamed: 12 entries copied
	// (and the 13th, if its Put came before the background sync), the
	// checkpoint carried over, and marked unclean.
	if h := ev[0].header; h.slots != 32 || h.count < 12 || h.count > 13 || h.checkpoint != 99 || h.clean {
		t.Fatalf("grown file synced with header %+v", h)
	}
}

// TestNoTornReads hammers a few slots with overwrites while readers look
// them up. The race detector does not watch mapped memory, so this test is
// what shows that a reader never sees a slot half written.
func TestNoTornReads(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	const hot = 4
	for n := range hot {
		mustPut(t, ix, n, 0)
	}
	var done atomic.Bool
	var bad atomic.Value
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for k := r % hot; !done.Load(); k = (k + 1) % hot {
				e, ok, err := ix.Lookup(FingerprintString(streamID(k)), matchStream(k))
				if err != nil || !ok || e != entryOf(k, e.Version) {
					bad.Store(fmt.Sprintf("stream %d: %+v %v %v", k, e, ok, err))
					return
				}
			}
		})
	}
	for i := range 50000 {
		if bad.Load() != nil {
			break
		}
		k := i % hot
		if err := ix.Put(FingerprintString(streamID(k)), entryOf(k, int64(i%1000)), matchStream(k)); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal("reader saw a torn or wrong slot: ", b)
	}
}

// The tail of a growth (sync, rename, directory sync) runs behind the
// writer: Puts go on into the new table while the new file syncs, the
// index on disk stays the old file until the rename, and Flush waits for
// the rename before its header claims anything.
func TestGrowthTailRunsBehindPuts(t *testing.T) {
	fs0, dir := newFS(t)
	fs := &spyFS{FS: fs0}
	started, release := make(chan struct{}), make(chan struct{})
	fs.beforeSync = func(file string) error {
		if file == "index.grow" {
			close(started)
			<-release
		}
		return nil
	}
	ix := mustCreate(t, fs, "index", 16)
	for n := range 12 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(99, 0, false); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ix, 12, 0) // grows to 32 slots
	<-started
	for n := 13; n < 24; n++ { // fit 32 slots: no second growth
		mustPut(t, ix, n, 1)
	}
	for n := range 24 {
		checkStream(t, ix, n, int64(min(n/13, 1)))
	}
	if h, reason := decodeHeader(readFile(t, dir, "index")); reason != "" || h.slots != 16 || h.checkpoint != 99 || h.clean {
		t.Fatalf("the index on disk during the tail: %+v %q; want the old file, unclean at 99", h, reason)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- ix.Flush(500, 0, true) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) before the growth's file was renamed into place", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)
	ix = mustOpen(t, fs0, "index")
	defer mustClose(t, ix)
	if ix.Slots() != 32 || ix.Len() != 24 || ix.Checkpoint() != 500 || !ix.Clean() {
		t.Fatalf("reopened: slots=%d len=%d checkpoint=%d clean=%v", ix.Slots(), ix.Len(), ix.Checkpoint(), ix.Clean())
	}
	for n := range 24 {
		checkStream(t, ix, n, int64(min(n/13, 1)))
	}
}

// A failed tail is sticky: the next Put (once the tail has ended) and
// Flush return its error, and the index on disk stays the old file.
func TestGrowthTailFailureIsSticky(t *testing.T) {
	fs0, dir := newFS(t)
	fs := &spyFS{FS: fs0}
	errSync := errors.New("injected sync failure")
	fs.beforeSync = func(file string) error {
		if file == "index.grow" {
			return errSync
		}
		return nil
	}
	ix := mustCreate(t, fs, "index", 16)
	defer ix.Close()
	for n := range 13 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.Flush(1, 0, false); !errors.Is(err, errSync) {
		t.Fatalf("Flush after a failed growth tail: %v", err)
	}
	if err := ix.Put(FingerprintOf([]byte(streamID(20))), entryOf(20, 0), matchStream(20)); !errors.Is(err, errSync) {
		t.Fatalf("Put after a failed growth tail: %v", err)
	}
	if h, _ := decodeHeader(readFile(t, dir, "index")); h.slots != 16 {
		t.Fatalf("the index on disk has %d slots, want the old file's 16", h.slots)
	}
}
