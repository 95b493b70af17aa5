package simfs

import (
	"bytes"
	"errors"
	iofs "io/fs"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

func newRng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

// mustCreate makes a durable file name of size bytes (synced, dir-synced).
func mustCreate(t *testing.T, fs *FS, name string, size int64) mmapfile.File {
	t.Helper()
	f, err := fs.Create(name, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir(); err != nil {
		t.Fatal(err)
	}
	return f
}

func content(t *testing.T, fs *FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(name)
	if err != nil {
		t.Fatalf("open %s after crash: %v", name, err)
	}
	return f.Bytes()
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

func TestUnsyncedWriteLostSyncedKept(t *testing.T) {
	fs := New(Config{Seed: 1})
	f := mustCreate(t, fs, "a", 3*PageSize)
	fill(f.Bytes()[:PageSize], 1) // page 0: synced
	if err := f.Sync(10, 1); err != nil {
		t.Fatal(err)
	}
	fill(f.Bytes()[2*PageSize:], 2) // page 2: never synced
	if err := f.WriteAt([]byte{3, 3}, PageSize+5); err != nil {
		t.Fatal(err)
	}

	drop := content(t, fs.Crash(newRng(1), DropAll), "a")
	if drop[0] != 1 || drop[PageSize-1] != 1 {
		t.Fatal("a synced page did not survive")
	}
	if drop[2*PageSize] != 0 || drop[PageSize+5] != 0 {
		t.Fatal("an unsynced store survived drop-all")
	}
	keep := content(t, fs.Crash(newRng(1), KeepAll), "a")
	if keep[2*PageSize] != 2 || keep[PageSize+6] != 3 {
		t.Fatal("an unsynced store was lost by keep-all")
	}
	for seed := range uint64(50) {
		got := content(t, fs.Crash(newRng(seed), Random), "a")
		if !bytes.Equal(got[:PageSize], bytes.Repeat([]byte{1}, PageSize)) {
			t.Fatalf("seed %d: synced page changed by a random crash", seed)
		}
	}
}

// TestTornPageIsAMix: every settled byte is old or new, whole sectors or a
// prefix of new, and some crash mixes both within a page.
func TestTornPageIsAMix(t *testing.T) {
	fs := New(Config{Seed: 2})
	f := mustCreate(t, fs, "a", PageSize)
	fill(f.Bytes(), 0xAA)
	if err := f.Sync(0, PageSize); err != nil {
		t.Fatal(err)
	}
	fill(f.Bytes(), 0xBB)
	mixed := 0
	for seed := range uint64(200) {
		got := content(t, fs.Crash(newRng(seed), Random), "a")
		olds, news := 0, 0
		for i, b := range got {
			switch b {
			case 0xAA:
				olds++
			case 0xBB:
				news++
			default:
				t.Fatalf("seed %d: byte %d is %#x, neither old nor new", seed, i, b)
			}
		}
		if olds > 0 && news > 0 {
			mixed++
			if !tornShape(got) {
				t.Fatalf("seed %d: torn page is neither whole sectors nor a prefix", seed)
			}
		}
	}
	if mixed == 0 {
		t.Fatal("200 random crashes never tore the page")
	}
}

// tornShape reports whether a page of 0xAA (old) and 0xBB (new) bytes is a
// set of whole sectors or a new prefix.
func tornShape(b []byte) bool {
	prefix := bytes.IndexByte(b, 0xAA)
	if prefix >= 0 && bytes.IndexByte(b[prefix:], 0xBB) < 0 {
		return true
	}
	for lo := 0; lo < len(b); lo += SectorSize {
		s := b[lo : lo+SectorSize]
		if !bytes.Equal(s, bytes.Repeat(s[:1], SectorSize)) {
			return false
		}
	}
	return true
}

func TestUnsyncedDirectoryChanges(t *testing.T) {
	fs := New(Config{Seed: 3})
	mustCreate(t, fs, "kept", PageSize)
	if _, err := fs.Create("new", PageSize); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename("kept", "moved"); err != nil {
		t.Fatal(err)
	}
	names := func(fs *FS) string {
		l, err := fs.List()
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.Join(toBytes(l), []byte(",")))
	}
	if got := names(fs.Crash(newRng(1), DropAll)); got != "kept" {
		t.Fatalf("drop-all directory %q, want only the synced name", got)
	}
	if got := names(fs.Crash(newRng(1), KeepAll)); got != "moved,new" {
		t.Fatalf("keep-all directory %q", got)
	}
	seen := map[string]bool{}
	for seed := range uint64(64) {
		seen[names(fs.Crash(newRng(seed), Random))] = true
	}
	for _, want := range []string{"kept", "kept,new", "moved", "moved,new"} {
		if !seen[want] {
			t.Errorf("random crashes never gave directory %q (got %v)", want, seen)
		}
	}

	fs2 := New(Config{Seed: 4})
	if _, err := fs2.Create("x", PageSize); err != nil {
		t.Fatal(err)
	}
	if err := fs2.SyncDir(); err != nil {
		t.Fatal(err)
	}
	if got := names(fs2.Crash(newRng(1), DropAll)); got != "x" {
		t.Fatalf("a dir-synced create did not survive: %q", got)
	}
}

func toBytes(s []string) [][]byte {
	b := make([][]byte, len(s))
	for i := range s {
		b[i] = []byte(s[i])
	}
	return b
}

// TestFailedSyncThenRetry: the failed Sync reports EIO, the retry reports
// success without writing the pages (they were marked clean), so across
// seeds some crash loses the data whose retry "succeeded".
func TestFailedSyncThenRetry(t *testing.T) {
	lost := 0
	for seed := range uint64(40) {
		fs := New(Config{Seed: seed})
		f := mustCreate(t, fs, "a", 4*PageSize)
		fs.FailNth(OpSync, 1)
		fill(f.Bytes(), 9)
		err := f.Sync(0, f.Size())
		if !errors.Is(err, ErrInjected) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("injected sync failure returned %v", err)
		}
		if n := fs.DirtyPages(); n != 0 {
			t.Fatalf("%d pages still dirty after a failed sync: they must be marked clean", n)
		}
		if err := f.Sync(0, f.Size()); err != nil {
			t.Fatalf("retried sync: %v", err)
		}
		after := fs.Crash(newRng(seed), KeepAll)
		if got := content(t, after, "a"); !bytes.Equal(got, bytes.Repeat([]byte{9}, len(got))) {
			lost++
			if after.Origin().DurableLost == 0 {
				t.Fatalf("seed %d: data lost but the crash report counts no page lost to the failed sync", seed)
			}
		}
	}
	if lost == 0 {
		t.Fatal("no seed lost data after a failed sync and a successful retry")
	}
}

func TestFrozenFSFails(t *testing.T) {
	fs := New(Config{Seed: 5})
	f := mustCreate(t, fs, "a", PageSize)
	l, err := fs.Lock()
	if err != nil {
		t.Fatal(err)
	}
	ops := fs.Ops()
	fs.FreezeAfter(ops + 1)
	if err := f.WriteAt([]byte{1}, 0); err != nil { // op ops+1 still runs
		t.Fatal(err)
	}
	checks := map[string]error{
		"sync":    f.Sync(0, 1),
		"writeat": f.WriteAt([]byte{2}, 0),
		"syncdir": fs.SyncDir(),
		"rename":  fs.Rename("a", "b"),
		"remove":  fs.Remove("a"),
		"unlock":  l.Close(),
		"close":   f.Close(),
	}
	_, checks["create"] = fs.Create("c", PageSize)
	_, checks["open"] = fs.Open("a")
	_, checks["list"] = fs.List()
	_, checks["lock"] = fs.Lock()
	for op, err := range checks {
		if !errors.Is(err, ErrCrashed) {
			t.Errorf("%s on a frozen FS returned %v, want ErrCrashed", op, err)
		}
	}
	if !fs.Frozen() || fs.Ops() != ops+1 {
		t.Fatalf("frozen %v after %d ops, want frozen after %d", fs.Frozen(), fs.Ops(), ops+1)
	}
	f.Bytes()[1] = 7 // stores after the power cut are discarded
	if got := content(t, fs.Crash(newRng(1), KeepAll), "a"); got[0] != 1 || got[1] != 0 {
		t.Fatalf("after crash a = %v, want the store before the freeze only", got[:2])
	}
}

func TestLockAndErrors(t *testing.T) {
	fs := New(Config{Seed: 6})
	l, err := fs.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Lock(); !errors.Is(err, mmapfile.ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l2, err := fs.Lock(); err != nil {
		t.Fatalf("Lock after release: %v", err)
	} else {
		_ = l2.Close()
	}
	if _, err := fs.Open("none"); !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("open of a missing file: %v", err)
	}
	mustCreate(t, fs, "a", PageSize)
	if _, err := fs.Create("a", PageSize); !errors.Is(err, iofs.ErrExist) {
		t.Fatalf("create over an existing file: %v", err)
	}
	fs.FailNth(OpCreate, 2)
	if _, err := fs.Create("b", PageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Create("c", PageSize); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second create after FailNth(create, 2): %v, want ENOSPC", err)
	}
	fs.FailNth(OpRename, 1)
	if err := fs.Rename("b", "d"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("rename after FailNth(rename, 1): %v, want ENOSPC", err)
	}
	if err := fs.Rename("b", "d"); err != nil {
		t.Fatalf("only one rename was to fail: %v", err)
	}
	f, _ := fs.Open("a")
	if err := f.Sync(PageSize-1, 2); !errors.Is(err, mmapfile.ErrInvalidRange) {
		t.Fatalf("sync past the end: %v", err)
	}
}

// TestWriteBack: with the flusher always on, an unsynced page reaches the
// device before any Sync and survives drop-all.
func TestWriteBack(t *testing.T) {
	fs := New(Config{Seed: 7, WriteBack: 1})
	f := mustCreate(t, fs, "a", PageSize)
	f.Bytes()[0] = 5
	if _, err := fs.List(); err != nil { // any operation lets the flusher run
		t.Fatal(err)
	}
	if got := content(t, fs.Crash(newRng(1), DropAll), "a"); got[0] != 5 {
		t.Fatal("a written-back page did not survive")
	}
	if fs.Stats().WriteBacks == 0 {
		t.Fatal("no write-back counted")
	}
}

func TestCrashIsRepeatable(t *testing.T) {
	run := func() []byte {
		fs := New(Config{Seed: 8, WriteBack: 0.3})
		f := mustCreate(t, fs, "a", 8*PageSize)
		r := newRng(3)
		for range 50 {
			off := r.IntN(len(f.Bytes()) - 100)
			if err := f.WriteAt(bytes.Repeat([]byte{byte(r.Uint32())}, 100), int64(off)); err != nil {
				t.Fatal(err)
			}
			if r.IntN(4) == 0 {
				if err := f.Sync(int64(off), 100); err != nil {
					t.Fatal(err)
				}
			}
		}
		return content(t, fs.Crash(newRng(9), Random), "a")
	}
	if !bytes.Equal(run(), run()) {
		t.Fatal("the same calls and seeds gave different crash states")
	}
}

func TestCorrupt(t *testing.T) {
	fs := New(Config{Seed: 9})
	f := mustCreate(t, fs, "a", 2*PageSize)
	before, _ := fs.Durable("a")
	r := newRng(1)
	if err := fs.Corrupt("a", 100, BitFlip, r); err != nil {
		t.Fatal(err)
	}
	after, _ := fs.Durable("a")
	if x := before[100] ^ after[100]; x == 0 || x&(x-1) != 0 || !bytes.Equal(before[101:], after[101:]) {
		t.Fatalf("bit flip changed %#x at 100 and the rest equal=%v", x, bytes.Equal(before[101:], after[101:]))
	}
	if f.Bytes()[100] != after[100] {
		t.Fatal("a clean page does not show the damage through Bytes")
	}
	if err := fs.Corrupt("a", PageSize+600, RandomSector, r); err != nil {
		t.Fatal(err)
	}
	after, _ = fs.Durable("a")
	if bytes.Equal(after[PageSize+512:PageSize+1024], make([]byte, 512)) {
		t.Fatal("random sector left the sector zero")
	}
	if err := fs.Corrupt("none", 0, ZeroSector, r); !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("corrupting a missing file: %v", err)
	}
}

// TestConcurrentStoresAndCrash stores through Bytes from one goroutine
// while another syncs, lists (running the flusher) and finally crashes the
// FS: under -race this must report nothing.
func TestConcurrentStoresAndCrash(t *testing.T) {
	fs := New(Config{Seed: 10, WriteBack: 0.5})
	f := mustCreate(t, fs, "a", 4*PageSize)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		b := f.Bytes()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b[(i*7)%len(b)] = byte(i)
			if i%64 == 0 {
				_ = f.Sync(0, PageSize)
			}
		}
	}()
	for range 200 {
		_, _ = fs.List()
		_ = f.Sync(PageSize, 2*PageSize)
	}
	after := fs.Crash(newRng(1), Random)
	close(stop)
	wg.Wait()
	if _, err := after.Open("a"); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptPages: a dropped page puts back what the page held before its
// last write reached the device, also across a crash; a misdirected page
// takes another page's differing content; neither can be made up where
// it could not happen.
func TestCorruptPages(t *testing.T) {
	fs := New(Config{Seed: 11})
	f := mustCreate(t, fs, "a", 3*PageSize)
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, PageSize) }
	write := func(p int, b byte, sync bool) {
		t.Helper()
		copy(f.Bytes()[p*PageSize:], page(b))
		if sync {
			if err := f.Sync(int64(p*PageSize), PageSize); err != nil {
				t.Fatal(err)
			}
		}
	}
	durablePage := func(fs *FS, p int) []byte {
		d, _ := fs.Durable("a")
		return d[p*PageSize : (p+1)*PageSize]
	}
	write(0, 'A', true)
	write(0, 'B', true)
	write(1, 'C', true)
	r := newRng(2)
	if err := fs.Corrupt("a", 10, DroppedPage, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(durablePage(fs, 0), page('A')) {
		t.Fatalf("dropped page 0 holds %q..., want the A it held before the B", durablePage(fs, 0)[:4])
	}
	if err := fs.Corrupt("a", 2*PageSize+10, DroppedPage, r); !errors.Is(err, ErrNoSuchCorruption) {
		t.Fatalf("dropping a page never written: %v", err)
	}
	if err := fs.Corrupt("a", 2*PageSize, MisdirectedPage, r); err != nil {
		t.Fatal(err)
	}
	if got := durablePage(fs, 2); !bytes.Equal(got, page('A')) && !bytes.Equal(got, page('C')) {
		t.Fatalf("misdirected page 2 holds %q..., want another page's content", got[:4])
	}

	// Page 1's next write reaches the device only at the crash.
	write(1, 'D', false)
	after := fs.Crash(r, KeepAll)
	if !bytes.Equal(durablePage(after, 1), page('D')) {
		t.Fatal("KeepAll lost the unsynced write")
	}
	if err := after.Corrupt("a", PageSize, DroppedPage, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(durablePage(after, 1), page('C')) {
		t.Fatalf("dropped page 1 after the crash holds %q..., want C", durablePage(after, 1)[:4])
	}

	one := New(Config{Seed: 12})
	mustCreate(t, one, "a", PageSize)
	if err := one.Corrupt("a", 0, MisdirectedPage, r); !errors.Is(err, ErrNoSuchCorruption) {
		t.Fatalf("misdirecting into a file with no other page: %v", err)
	}
}
