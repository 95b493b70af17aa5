package compaction_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spooldb/spool/compaction"
	"github.com/spooldb/spool/mmapfile"
	"github.com/spooldb/spool/mmapfile/simfs"
	"github.com/spooldb/spool/segment"
)

// touch creates name with size bytes of content from fill.
func touch(t *testing.T, fsys mmapfile.FS, name string, size int64, fill func(b []byte)) {
	t.Helper()
	f, err := fsys.Create(name, size)
	if err != nil {
		t.Fatal(err)
	}
	if fill != nil {
		fill(f.Bytes())
	}
	if err := f.Sync(0, size); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := fsys.SyncDir(); err != nil {
		t.Fatal(err)
	}
}

// emptyCompacted writes a compacted segment without records covering
// [base, end).
func emptyCompacted(t *testing.T, fsys mmapfile.FS, base, end uint64) {
	touch(t, fsys, segment.FileName(base), segment.CompactedSize(0, 0), func(b []byte) {
		w, err := segment.NewCompactWriter(b, base, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Finish(1); err != nil {
			t.Fatal(err)
		}
	})
}

func names(t *testing.T, fsys mmapfile.FS) []string {
	t.Helper()
	n, err := fsys.List()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCleanupNothingToDo(t *testing.T) {
	lf := newLog(t, 30, 3, 3000)
	touch(t, lf.fs, "index", 4096, nil)
	before := names(t, lf.fs)
	ops := lf.fs.Stats().Ops
	rep, err := compaction.Cleanup(lf.fs)
	if err != nil || len(rep.RolledBack)+len(rep.RolledForward)+rep.Compacted != 0 {
		t.Fatalf("Cleanup: %+v, %v", rep, err)
	}
	if !slices.Equal(names(t, lf.fs), before) {
		t.Fatal("Cleanup changed a clean directory")
	}
	if after := lf.fs.Stats().Ops; after[simfs.OpSyncDir] != ops[simfs.OpSyncDir] || after[simfs.OpRemove] != ops[simfs.OpRemove] {
		t.Fatal("Cleanup removed or synced with nothing to do")
	}
}

func TestCleanupRollsBack(t *testing.T) {
	lf := newLog(t, 31, 3, 3000)
	e := lf.expect(t, 0, 2, keepEven)
	tmp := compaction.TempName(lf.segs[0].base)
	touch(t, lf.fs, tmp, 4096, nil)
	touch(t, lf.fs, "notes.compact", 4096, nil) // not ours: kept
	rep, err := compaction.Cleanup(lf.fs)
	if err != nil || !slices.Equal(rep.RolledBack, []string{tmp}) || len(rep.RolledForward) != 0 {
		t.Fatalf("Cleanup: %+v, %v", rep, err)
	}
	if !slices.Contains(names(t, lf.fs), "notes.compact") || slices.Contains(names(t, lf.fs), tmp) {
		t.Fatalf("left %v", names(t, lf.fs))
	}
	if err := lf.fs.Remove("notes.compact"); err != nil {
		t.Fatal(err)
	}
	if e.check(t, lf.fs) {
		t.Fatal("rolled back to the compacted state?")
	}
}

func TestCleanupRollsForward(t *testing.T) {
	lf := newLog(t, 32, 4, 3000)
	e := lf.expect(t, 0, 3, keepEven)
	lf.fs.FailNth(simfs.OpRemove, 1)
	if _, err := compaction.Rewrite(context.Background(), lf.fs, lf.sources(t, lf.fs, 0, 3), keepEven, nil); !errors.Is(err, compaction.ErrSwapIncomplete) {
		t.Fatalf("Rewrite: %v", err)
	}
	rep, err := compaction.Cleanup(lf.fs)
	want := []string{lf.segs[1].name, lf.segs[2].name}
	if err != nil || !slices.Equal(rep.RolledForward, want) || len(rep.RolledBack) != 0 || rep.Compacted != 1 {
		t.Fatalf("Cleanup: %+v, %v; want %v rolled forward", rep, err, want)
	}
	if !e.check(t, lf.fs) {
		t.Fatal("not rolled forward")
	}
	// Durable: a crash now keeps it.
	back := lf.fs.Crash(rand.New(rand.NewPCG(1, 1)), simfs.DropAll)
	if !e.check(t, back) {
		t.Fatal("the roll forward was not made durable")
	}
}

// A compacted segment inside another one's range (a compaction of a run
// that held a compacted segment, interrupted) goes too.
func TestCleanupNestedCompacted(t *testing.T) {
	fsys := simfs.New(simfs.Config{})
	emptyCompacted(t, fsys, 0, 1000)
	emptyCompacted(t, fsys, 200, 600)
	emptyCompacted(t, fsys, 1000, 1200)
	rep, err := compaction.Cleanup(fsys)
	if err != nil || !slices.Equal(rep.RolledForward, []string{segment.FileName(200)}) || rep.Compacted != 3 {
		t.Fatalf("Cleanup: %+v, %v", rep, err)
	}
}

func TestCleanupRefuses(t *testing.T) {
	t.Run("overlap", func(t *testing.T) {
		fsys := simfs.New(simfs.Config{})
		emptyCompacted(t, fsys, 0, 1000)
		emptyCompacted(t, fsys, 200, 1200)
		touch(t, fsys, compaction.TempName(0), 4096, nil)
		_, err := compaction.Cleanup(fsys)
		if !errors.Is(err, compaction.ErrOverlap) {
			t.Fatalf("Cleanup: %v", err)
		}
		if len(names(t, fsys)) != 3 {
			t.Fatalf("removed something: %v", names(t, fsys))
		}
	})
	t.Run("damaged header", func(t *testing.T) {
		lf := newLog(t, 33, 3, 3000)
		emptyCompacted(t, lf.fs, 1, 8) // before the log; its range covers nothing
		touch(t, lf.fs, compaction.TempName(lf.segs[0].base), 4096, nil)
		before := names(t, lf.fs)
		f, err := lf.fs.Open(lf.segs[1].name)
		if err != nil {
			t.Fatal(err)
		}
		f.Bytes()[20] ^= 1
		_ = f.Close()
		_, err = compaction.Cleanup(lf.fs)
		wantCorrupt(t, err, lf.segs[1].name, 0)
		if !slices.Equal(names(t, lf.fs), before) {
			t.Fatal("removed something")
		}
	})
	t.Run("header of another base", func(t *testing.T) {
		fsys := simfs.New(simfs.Config{})
		emptyCompacted(t, fsys, 0, 1000)
		if err := fsys.Rename(segment.FileName(0), segment.FileName(8)); err != nil {
			t.Fatal(err)
		}
		_, err := compaction.Cleanup(fsys)
		wantCorrupt(t, err, segment.FileName(8), 16)
	})
	t.Run("short file", func(t *testing.T) {
		fsys := simfs.New(simfs.Config{})
		touch(t, fsys, segment.FileName(0), 100, nil)
		_, err := compaction.Cleanup(fsys)
		wantCorrupt(t, err, segment.FileName(0), 0)
	})
	t.Run("empty file", func(t *testing.T) {
		// simfs cannot make a file of 0 bytes; a crash after the create
		// of a file whose size never reached the disk leaves one.
		dir := t.TempDir()
		fsys, err := mmapfile.OpenDir(dir, mmapfile.PrepZeroFill)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, segment.FileName(0)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = compaction.Cleanup(fsys)
		wantCorrupt(t, err, segment.FileName(0), 0)
	})
	t.Run("not blamed on compaction", func(t *testing.T) {
		// A damaged header is not something a compaction did: the error
		// names the file, not the cleanup that came across it.
		fsys := simfs.New(simfs.Config{})
		touch(t, fsys, segment.FileName(0), 100, nil)
		if _, err := compaction.Cleanup(fsys); err == nil || strings.Contains(err.Error(), "compaction") {
			t.Fatalf("Cleanup: %v", err)
		}
	})
	t.Run("list fails", func(t *testing.T) {
		fsys := simfs.New(simfs.Config{})
		fsys.FailNth(simfs.OpList, 1)
		if _, err := compaction.Cleanup(fsys); !errors.Is(err, simfs.ErrInjected) {
			t.Fatalf("Cleanup: %v", err)
		}
	})
}

// A temp file left by an interrupted Rewrite does not stop the next one.
func TestRewriteReplacesStaleTemp(t *testing.T) {
	lf := newLog(t, 34, 3, 3000)
	touch(t, lf.fs, compaction.TempName(lf.segs[0].base), 4096, nil)
	rewrite(t, lf, 0, 2, keepEven)
}
