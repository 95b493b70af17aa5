package hashindex

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

// A growth that finds its file prepared makes none: it copies, syncs and
// renames (TestGrowthProtocol shows the same growth without preparation).
func TestPreparedGrowthProtocol(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &spyFS{FS: fs0}
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	for n := range 7 {
		mustPut(t, ix, n, 0)
	}
	if ix.GrowthAhead() {
		t.Fatal("GrowthAhead with 7 of 16 slots used")
	}
	mustPut(t, ix, 7, 0)
	if !ix.GrowthAhead() {
		t.Fatal("no GrowthAhead with 8 of 16 slots used")
	}
	fs.take()
	if err := ix.PrepareGrowth(); err != nil {
		t.Fatal(err)
	}
	if ops := fs.takeOps(); !slices.Equal(ops, []string{"create index.grow"}) {
		t.Fatalf("PrepareGrowth did %q, want only the creation of index.grow", ops)
	}
	if ix.GrowthAhead() {
		t.Fatal("GrowthAhead still true with the file prepared")
	}
	if err := ix.PrepareGrowth(); err != nil { // a second ask does nothing
		t.Fatal(err)
	}
	for n := 8; n < 13; n++ { // the 13th stream does not fit 16 slots
		mustPut(t, ix, n, 0)
	}
	waitTail(t, ix)
	want := []string{
		"sync index.grow 0 " + itoa(fileSize(32)),
		"rename index.grow index",
		"syncdir",
	}
	if ops := fs.takeOps(); !slices.Equal(ops, want) {
		t.Fatalf("growth did\n%q\nwant\n%q", ops, want)
	}
	if total, prepared := ix.Growths(); total != 1 || prepared != 1 {
		t.Fatalf("Growths() = %d, %d; want 1, 1", total, prepared)
	}
	if ix.Slots() != 32 || ix.Len() != 13 || ix.GrowthAhead() {
		t.Fatalf("after growth: slots=%d len=%d ahead=%v", ix.Slots(), ix.Len(), ix.GrowthAhead())
	}
	for n := range 13 {
		checkStream(t, ix, n, 0)
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Close removes a prepared file (it holds nothing), and no preparation
// follows it.
func TestCloseRemovesPreparedGrowth(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	for n := range 8 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.PrepareGrowth(); err != nil {
		t.Fatal(err)
	}
	if names, _ := fs.List(); !slices.Equal(names, []string{"index", "index.grow"}) {
		t.Fatalf("directory holds %v after PrepareGrowth", names)
	}
	mustClose(t, ix)
	if names, _ := fs.List(); !slices.Equal(names, []string{"index"}) {
		t.Fatalf("directory holds %v after Close, want only the index", names)
	}
	if err := ix.PrepareGrowth(); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("PrepareGrowth after Close: %v, want ErrClosed", err)
	}
	if ix.GrowthAhead() {
		t.Fatal("GrowthAhead after Close")
	}
}

// A prepared file that a crash left behind is a stale scratch file: Open
// removes it, and the next growth makes its own.
func TestOpenRemovesPreparedGrowth(t *testing.T) {
	fs, dir := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	for n := range 8 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.PrepareGrowth(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(1, 0, true); err != nil {
		t.Fatal(err)
	}
	// A crash: the process ends without Close, the prepared file stays.
	grow := readFile(t, dir, "index.grow")
	mustClose(t, ix)
	writeFile(t, dir, "index.grow", grow)

	ix = mustOpen(t, fs, "index")
	defer mustClose(t, ix)
	if names, _ := fs.List(); !slices.Equal(names, []string{"index"}) {
		t.Fatalf("directory holds %v after Open, want only the index", names)
	}
	for n := 8; n < 13; n++ {
		mustPut(t, ix, n, 0)
	}
	if total, prepared := ix.Growths(); total != 1 || prepared != 0 {
		t.Fatalf("Growths() = %d, %d; want 1, 0", total, prepared)
	}
	for n := range 13 {
		checkStream(t, ix, n, 0)
	}
}

// Preparations racing Puts through many growths: every growth either takes
// a file prepared for its size or makes its own, no entry is lost, and
// nothing is left behind.
func TestPrepareGrowthConcurrentWithPuts(t *testing.T) {
	fs, _ := newFS(t)
	ix := mustCreate(t, fs, "index", 16)
	const streams = 20000
	asks := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range asks {
			if err := ix.PrepareGrowth(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for n := range streams {
		mustPut(t, ix, n, int64(n%3))
		if ix.GrowthAhead() {
			select {
			case asks <- struct{}{}:
			default:
			}
		}
	}
	close(asks)
	wg.Wait()
	total, prepared := ix.Growths()
	if total != 11 { // 16 → 32768 slots
		t.Fatalf("%d growths, want 11", total)
	}
	t.Logf("%d of %d growths found their file prepared", prepared, total)
	for n := range streams {
		checkStream(t, ix, n, int64(n%3))
	}
	if err := ix.Validate(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, ix)
	if names, _ := fs.List(); !slices.Equal(names, []string{"index"}) {
		t.Fatalf("directory holds %v after Close, want only the index", names)
	}
}

// A preparation that failed is not asked for again for the same size (a
// full disk would otherwise fail a preparation per Put), and the growth
// makes its own file.
func TestFailedPreparationIsNotRepeated(t *testing.T) {
	fs0, _ := newFS(t)
	fs := &failCreateFS{FS: fs0, fail: "index.grow"}
	ix := mustCreate(t, fs, "index", 16)
	defer mustClose(t, ix)
	for n := range 8 {
		mustPut(t, ix, n, 0)
	}
	if err := ix.PrepareGrowth(); !errors.Is(err, errCreate) {
		t.Fatalf("PrepareGrowth: %v, want the Create failure", err)
	}
	if ix.GrowthAhead() {
		t.Fatal("GrowthAhead asks again for the size whose preparation failed")
	}
	fs.fail = ""
	for n := 8; n < 13; n++ {
		mustPut(t, ix, n, 0)
	}
	waitTail(t, ix)
	if total, prepared := ix.Growths(); total != 1 || prepared != 0 {
		t.Fatalf("Growths() = %d, %d; want 1, 0", total, prepared)
	}
	for n := 13; n < 16; n++ { // half of 32 slots: the next size may be prepared
		mustPut(t, ix, n, 0)
	}
	if !ix.GrowthAhead() {
		t.Fatal("no GrowthAhead for the next size")
	}
}

var errCreate = errors.New("injected create failure")

// failCreateFS fails Create of the file named fail.
type failCreateFS struct {
	mmapfile.FS
	fail string
}

func (f *failCreateFS) Create(name string, size int64) (mmapfile.File, error) {
	if name == f.fail {
		return nil, errCreate
	}
	return f.FS.Create(name, size)
}
