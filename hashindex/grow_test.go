package hashindex

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
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
	if err := ix.Flush(777, true); err != nil {
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
				if r%2 == 1 {
					k = n - 1 - rng.IntN(min(n, 16)) // the newest ones
				}
				e, ok, err := ix.Lookup(FingerprintString(streamID(k)), matchStream(k))
				switch {
				case err != nil:
					report("Lookup: " + err.Error())
				case !ok:
					report("acked stream " + streamID(k) + " not found")
				case e.Tail>>versionBits != uint64(k) || e.State != Live:
					report("acked stream " + streamID(k) + " has a wrong entry")
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
		if n%4096 == 0 {
			if err := ix.Flush(uint64(n), false); err != nil {
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
	if err := ix.Flush(99, false); err != nil {
		t.Fatal(err)
	}
	fs.take()
	mustPut(t, ix, 12, 0) // the 13th stream does not fit 16 slots

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
	if err := ix.Flush(99, false); err != nil {
		t.Fatal(err)
	}
	fs.take()
	mustPut(t, ix, 12, 0)
	ev := fs.take()
	if len(ev) != 1 {
		t.Fatalf("%d syncs during growth, want 1", len(ev))
	}
	// The new file is complete before it is renamed: 12 entries copied,
	// the checkpoint carried over, and marked unclean.
	if h := ev[0].header; h.slots != 32 || h.count != 12 || h.checkpoint != 99 || h.clean {
		t.Fatalf("grown file synced with header %+v", h)
	}
}
