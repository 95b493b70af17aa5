package hashindex

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spooldb/spool/mmapfile"
)

// The tests stand in for the log with an encoding: stream n's record of
// version v sits at log position n<<20 | v, so a MatchFunc can tell a
// record's stream from its position alone, as the engine does by reading
// the record.
const versionBits = 20

func streamID(n int) string { return fmt.Sprintf("stream-%d", n) }

func tailOf(n int, v int64) uint64 { return uint64(n)<<versionBits | uint64(v) }

func entryOf(n int, v int64) Entry {
	return Entry{Tail: tailOf(n, v), Version: v, Aux: uint64(n) * 3, State: Live}
}

// matchStream is the MatchFunc for stream n.
func matchStream(n int) MatchFunc {
	return func(e Entry) (bool, error) { return int(e.Tail>>versionBits) == n, nil }
}

func newFS(t testing.TB) (mmapfile.FS, string) {
	t.Helper()
	dir := t.TempDir()
	fs, err := mmapfile.OpenDir(dir, mmapfile.PrepFallocate)
	if err != nil {
		t.Fatal(err)
	}
	return fs, dir
}

func mustCreate(t testing.TB, fs mmapfile.FS, name string, slots uint64) *Index {
	t.Helper()
	ix, err := Create(fs, name, slots)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return ix
}

func mustOpen(t testing.TB, fs mmapfile.FS, name string) *Index {
	t.Helper()
	ix, err := Open(fs, name)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return ix
}

func mustPut(t testing.TB, ix *Index, n int, v int64) {
	t.Helper()
	if err := ix.Put(FingerprintString(streamID(n)), entryOf(n, v), matchStream(n)); err != nil {
		t.Fatalf("Put stream %d v%d: %v", n, v, err)
	}
}

// checkStream fails unless stream n is found with version v.
func checkStream(t testing.TB, ix *Index, n int, v int64) {
	t.Helper()
	e, ok, err := ix.Lookup(FingerprintString(streamID(n)), matchStream(n))
	if err != nil {
		t.Fatalf("Lookup stream %d: %v", n, err)
	}
	if !ok {
		t.Fatalf("Lookup stream %d: not found", n)
	}
	if want := entryOf(n, v); e != want {
		t.Fatalf("Lookup stream %d: got %+v, want %+v", n, e, want)
	}
}

func checkAbsent(t testing.TB, ix *Index, n int) {
	t.Helper()
	_, ok, err := ix.Lookup(FingerprintString(streamID(n)), matchStream(n))
	if err != nil || ok {
		t.Fatalf("Lookup absent stream %d: ok=%v err=%v", n, ok, err)
	}
}

func mustClose(t testing.TB, ix *Index) {
	t.Helper()
	if err := ix.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// readFile and writeFile edit an index file behind the FS's back, as a
// crash, a bit flip or another program would.
func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncEvent is one File.Sync seen by spyFS, with the file's header and slot
// bytes as they were when the sync started.
type syncEvent struct {
	file   string
	off, n int64
	header header // decoded from the mapping at the time of the sync
	slots  []byte // copy of the slot region at the time of the sync
}

// spyFS records every Sync of every file it hands out, and every
// directory operation, in ops.
type spyFS struct {
	mmapfile.FS
	mu     sync.Mutex
	events []syncEvent
	ops    []string
	// syncErr, when set, is returned by every Sync instead of syncing.
	syncErr error
	// beforeSync, when set, runs before each Sync of a file; an error it
	// returns is returned instead of syncing.
	beforeSync func(file string) error
}

func (s *spyFS) op(format string, args ...any) {
	s.mu.Lock()
	s.ops = append(s.ops, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *spyFS) Rename(oldName, newName string) error {
	s.op("rename %s %s", oldName, newName)
	return s.FS.Rename(oldName, newName)
}

func (s *spyFS) SyncDir() error {
	s.op("syncdir")
	return s.FS.SyncDir()
}

func (s *spyFS) Create(name string, size int64) (mmapfile.File, error) {
	s.op("create %s", name)
	f, err := s.FS.Create(name, size)
	if err != nil {
		return nil, err
	}
	return &spyFile{File: f, fs: s}, nil
}

func (s *spyFS) Open(name string) (mmapfile.File, error) {
	f, err := s.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &spyFile{File: f, fs: s}, nil
}

func (s *spyFS) take() []syncEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events
	s.events, s.ops = nil, nil
	return ev
}

func (s *spyFS) takeOps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.ops
	s.events, s.ops = nil, nil
	return ops
}

type spyFile struct {
	mmapfile.File
	fs *spyFS
}

func (f *spyFile) Sync(off, n int64) error {
	b := f.Bytes()
	h, _ := decodeHeader(b)
	ev := syncEvent{file: f.Name(), off: off, n: n, header: h, slots: append([]byte(nil), b[HeaderSize:]...)}
	f.fs.op("sync %s %d %d", ev.file, off, n)
	f.fs.mu.Lock()
	f.fs.events = append(f.fs.events, ev)
	err := f.fs.syncErr
	hook := f.fs.beforeSync
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	if hook != nil {
		if err := hook(ev.file); err != nil {
			return err
		}
	}
	return f.File.Sync(off, n)
}

// waitTail waits for the background tail of the last growth (sync, rename,
// directory sync) and fails the test if it failed.
func waitTail(t testing.TB, ix *Index) {
	t.Helper()
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	if err := ix.waitGrowth(); err != nil {
		t.Fatal(err)
	}
}
