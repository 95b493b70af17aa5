package engine

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooldb/spool/mmapfile"
)

// lateFailFS: segment syncs succeed okSyncs more times, then fail (okSyncs
// negative: all succeed); index syncs sleep while slowIndex is set.
type lateFailFS struct {
	wrapFS
	okSyncs   atomic.Int64
	slowIndex atomic.Bool
}

type lateFailFile struct {
	mmapfile.File
	fs *lateFailFS
}

func (f *lateFailFile) Sync(off, n int64) error {
	if f.Size() < 64<<10 { // the index
		if f.fs.slowIndex.Load() {
			time.Sleep(300 * time.Millisecond)
		}
		return f.File.Sync(off, n)
	}
	if f.fs.okSyncs.Load() >= 0 && f.fs.okSyncs.Add(-1) < 0 {
		return errors.New("injected msync failure")
	}
	return f.File.Sync(off, n)
}

// TestFailedAppendRetriedAfterReopen: an append whose msync completed just
// before a later group's msync failed the store gets ErrFailed (the store
// acknowledges nothing more), although its records are durable. ErrFailed
// documents that outcome as unknown and a retry with the same event IDs
// after a reopen as the way to settle it: the retry must find the records
// and write nothing, whichever way the race went.
func TestFailedAppendRetriedAfterReopen(t *testing.T) {
	defer func(v uint64) { checkpointMinBytes = v }(checkpointMinBytes)
	checkpointMinBytes = 1 // the applier checkpoints (slowly) after each group

	dir := t.TempDir()
	base, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
	if err != nil {
		t.Fatal(err)
	}
	fs := &lateFailFS{}
	fs.okSyncs.Store(-1)
	fs.wrapFS = wrapFS{base, func(f mmapfile.File) mmapfile.File { return &lateFailFile{f, fs} }}
	s := openT(t, dir, &Options{Storage: fs, SegmentSize: 1 << 20, IndexSlots: 16})

	fs.okSyncs.Store(2) // A's and B's commits succeed, C's fails
	fs.slowIndex.Store(true)
	appendT(t, s, "a", NoStream, Event{Type: "t", Data: make([]byte, 24<<10)})
	bErr := make(chan error, 1)
	go func() { _, err := s.Append(bg, "b", NoStream, evID(7, "B")); bErr <- err }()
	time.Sleep(100 * time.Millisecond) // B's group is synced and waits for the applier
	go func() { _, _ = s.Append(bg, "c", NoStream, ev("C")) }()
	errB := <-bErr
	if errB != nil && !errors.Is(errB, ErrFailed) {
		t.Fatalf("Append(B): %v, want nil or ErrFailed", errB)
	}
	_ = s.Close()

	s = openT(t, dir, nil)
	defer closeT(t, s)
	durable := len(collect(t, s.ReadStream("b", 0, Forward))) == 1
	if errB == nil && !durable {
		t.Fatal("Append(B) succeeded, and B is gone after the reopen")
	}
	before := s.Stats().Events
	res, err := s.Append(bg, "b", NoStream, evID(7, "B"))
	if err != nil {
		t.Fatalf("retry of B after the reopen (first outcome %v): %v", errB, err)
	}
	got := collect(t, s.ReadStream("b", 0, Forward))
	if len(got) != 1 || string(got[0].Data) != "B" || res.FirstVersion != 0 {
		t.Fatalf("stream b after the retry: %d events, result %+v (first outcome %v)", len(got), res, errB)
	}
	if wrote := s.Stats().Events - before; durable && wrote != 0 {
		t.Fatalf("the retry wrote B again (%d events), though it was durable", wrote)
	}
	t.Logf("first outcome: %v; durable before the retry: %v", errB, durable)
}
